"""Mitosis attachment and artifact routes (seed 003), included at the root by
config/routes/mitosis.py. Fixed segments come before the converters: "download" and "delete"
are not uuids, and each "<path:key>" route follows its fixed siblings (query, list), whose
views also serve the key of that name."""

from django.urls import path

from .api import artifacts, attachments

urlpatterns = [
    path("groups/<str:group_name>/attachments", attachments.AttachmentUploadView.as_view(), name="attachment-upload"),
    path("groups/<str:group_name>/attachments/query", attachments.AttachmentQueryView.as_view(),
         name="attachment-query"),
    path("groups/<str:group_name>/attachments/<path:key>", attachments.AttachmentView.as_view(), name="attachment"),
    path("groups/<str:group_name>/download/attachments", attachments.AttachmentsDownloadView.as_view(),
         name="attachments-download"),
    path("groups/<str:group_name>/download/attachments/list", attachments.AttachmentsDownloadListView.as_view(),
         name="attachments-download-list"),
    path("groups/<str:group_name>/download/attachments/<path:key>", attachments.AttachmentDownloadView.as_view(),
         name="attachment-download"),
    path("groups/<str:group_name>/delete/attachments", attachments.AttachmentsDeleteView.as_view(),
         name="attachments-delete"),
    path("groups/<str:group_name>/delete/attachments/list", attachments.AttachmentsDeleteListView.as_view(),
         name="attachments-delete-list"),
    path("admin/groups/<str:group_name>/attachments/<path:key>", attachments.AdminAttachmentView.as_view(),
         name="admin-attachment"),
    path("tasks/download/artifacts", artifacts.ArtifactsDownloadView.as_view(), name="artifacts-download"),
    path("tasks/download/artifacts/list", artifacts.ArtifactsDownloadListView.as_view(),
         name="artifacts-download-list"),
    path("tasks/delete/artifacts", artifacts.ArtifactsDeleteView.as_view(), name="artifacts-delete"),
    path("tasks/delete/artifacts/list", artifacts.ArtifactsDeleteListView.as_view(), name="artifacts-delete-list"),
    path("tasks/<uuid:uuid>/artifacts", artifacts.ArtifactUploadView.as_view(), name="artifact-upload"),
    path("tasks/<uuid:uuid>/artifacts/<str:content_type>", artifacts.ArtifactView.as_view(), name="artifact"),
    path("tasks/<uuid:uuid>/download/artifacts/<str:content_type>", artifacts.ArtifactDownloadView.as_view(),
         name="artifact-download"),
    path("admin/tasks/<uuid:uuid>/artifacts/<str:content_type>", artifacts.AdminArtifactView.as_view(),
         name="admin-artifact"),
    path("workers/tasks/<uuid:uuid>/artifacts/<str:content_type>", artifacts.WorkerArtifactDownloadView.as_view(),
         name="worker-artifact-download"),
    path("workers/tasks/<uuid:uuid>/attachments/<path:key>", artifacts.WorkerAttachmentDownloadView.as_view(),
         name="worker-attachment-download"),
]
