"""Writes on Torc files and user data."""

from django.db import transaction

from apps.core.exceptions import FieldValidationError

from .models import File, JobUserData, UserData


def file_save(*, instance: File | None = None, **fields) -> File:
    instance = instance or File()
    for key, value in fields.items():
        setattr(instance, key, value)
    instance.save()
    return instance


@transaction.atomic
def user_data_save(*, instance: UserData | None = None, consumer_job_id: int | None = None,
                   producer_job_id: int | None = None, **fields) -> UserData:
    """Create or replace user data; as Torc's create_user_data, optionally link a consuming and a
    producing job of the same workflow."""
    from apps.jobs.models import Job

    instance = instance or UserData()
    for key, value in fields.items():
        setattr(instance, key, value)
    instance.save()
    for job_id, is_output, field in ((consumer_job_id, False, "consumer_job_id"),
                                     (producer_job_id, True, "producer_job_id")):
        if job_id is None:
            continue
        if not Job.objects.filter(pk=job_id, workflow_id=instance.workflow_id).exists():
            raise FieldValidationError(f"job {job_id} not found in workflow {instance.workflow_id}", field=field)
        JobUserData.objects.get_or_create(job_id=job_id, user_data=instance, is_output=is_output)
    return instance
