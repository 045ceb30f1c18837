"""Every write on attachments and artifacts, and the reads behind their URLs. Views, the worker
report and the console call these; each write is one transaction."""

from .artifacts import (
    artifact_delete,
    artifact_download,
    artifact_upload,
    artifact_upload_url,
    artifacts_delete,
    artifacts_download,
    artifacts_for,
)
from .attachments import (
    KeyFilter,
    attachment_admin_delete,
    attachment_delete,
    attachment_download,
    attachment_get,
    attachment_upload,
    attachments_delete,
    attachments_download,
    attachments_query,
)
from .workers import worker_artifact_download, worker_attachment_download

__all__ = [
    "KeyFilter", "artifact_delete", "artifact_download", "artifact_upload",
    "artifact_upload_url", "artifacts_delete", "artifacts_download", "artifacts_for", "attachment_admin_delete",
    "attachment_delete", "attachment_download", "attachment_get", "attachment_upload", "attachments_delete",
    "attachments_download", "attachments_query", "worker_artifact_download",
    "worker_attachment_download",
]
