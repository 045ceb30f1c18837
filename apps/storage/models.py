"""Mitosis objects kept in the object store: a group's attachments (any key) and a task's
artifacts (one per content type). Rows hold the accounted size; the bytes live in the storage
named by backends.STORAGE_ALIAS under object_name()."""

from django.db import models
from django.utils import timezone

from apps.core.exceptions import FieldValidationError


class ArtifactContentType(models.TextChoices):
    RESULT = "result"
    EXEC_LOG = "exec-log"
    STD_LOG = "std-log"


class Attachment(models.Model):
    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="attachments", db_index=False)
    key = models.CharField(max_length=1024)
    # (group, key) unique: also the index of every look-up by group.
    # Bytes accounted in the group's storage_used: the largest size ever announced for the key.
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "drover_attachment"
        ordering = ["group", "key"]
        constraints = [models.UniqueConstraint(fields=["group", "key"], name="attachment_unique_group_key")]

    def __str__(self) -> str:
        return f"{self.group_id}:{self.key}"


class Artifact(models.Model):
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="artifacts", db_index=False)
    content_type = models.CharField(max_length=16, choices=ArtifactContentType.choices)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "drover_artifact"
        ordering = ["job", "content_type"]
        constraints = [models.UniqueConstraint(fields=["job", "content_type"], name="artifact_unique_job_type")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.content_type}"


def attachment_object_name(group_name: str, key: str) -> str:
    """The group name is one segment of the object's name. The API makes no name holding "." or
    "/", but a user made in the console or by createsuperuser may be called "." or "..", and S3
    names are normalised (django-storages' clean_name): "attachments/./bob/x" is bob's object x."""
    if group_name in (".", "..") or "/" in group_name or "\\" in group_name:
        raise FieldValidationError(f"{group_name!r} cannot name a storage prefix ('.', '..', '/' and '\\' are "
                                   "path syntax); rename the group to hold attachments", field="group_name")
    return f"attachments/{group_name}/{key}"


def artifact_object_name(job_uuid, content_type: str) -> str:
    # Mitosis names the archive after the content type: result.tar.gz, exec-log.tar.gz, std-log.tar.gz
    return f"artifacts/{job_uuid}/{content_type}.tar.gz"
