"""Torc files and user data, with the jobs that consume and produce them. (Mitosis attachments
and artifacts on django-storages arrive with the Mitosis issue.)"""

from django.db import models


class File(models.Model):
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    path = models.CharField(max_length=4096)
    st_mtime = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "drover_file"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.path


class UserData(models.Model):
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="user_data")
    name = models.CharField(max_length=255)
    is_ephemeral = models.BooleanField(default=False)
    data = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "drover_user_data"
        ordering = ["id"]
        verbose_name_plural = "user data"


class JobFile(models.Model):
    """A job reads (input) or writes (output) a file; a reader depends on the writer."""

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="file_links")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="job_links")
    is_output = models.BooleanField()

    class Meta:
        db_table = "drover_job_file"
        constraints = [models.UniqueConstraint(fields=["job", "file", "is_output"], name="job_file_unique")]
        indexes = [models.Index(fields=["file", "is_output"], name="job_file_by_file")]


class JobUserData(models.Model):
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="user_data_links")
    user_data = models.ForeignKey(UserData, on_delete=models.CASCADE, related_name="job_links")
    is_output = models.BooleanField()

    class Meta:
        db_table = "drover_job_user_data"
        constraints = [models.UniqueConstraint(fields=["job", "user_data", "is_output"], name="job_user_data_unique")]
        indexes = [models.Index(fields=["user_data", "is_output"], name="job_user_data_by_data")]
