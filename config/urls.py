"""One include per dialect; each dialect's whole surface is in config/routes/<dialect>.py."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from apps.core.errors import json_error_view
from apps.core.views import HealthView
from apps.groups.api.tokens import TokenObtainView, TokenRefreshViewSigned
from apps.storage.api import local as local_storage

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("token/", TokenObtainView.as_view(), name="token"),
    path("token/refresh/", TokenRefreshViewSigned.as_view(), name="token-refresh"),
    path("console/", admin.site.urls),
    # Signed URLs of the local storage backend (Mitosis attachments and artifacts).
    path("storage/upload/<str:token>", local_storage.upload, name="storage-upload"),
    path("storage/download/<str:token>", local_storage.download, name="storage-download"),
    path("torc-service/v1/", include(("config.routes.torc", "torc"))),
    path("", include(("config.routes.mitosis", "mitosis"))),
]

handler400 = json_error_view(400, "Bad request")
handler403 = json_error_view(403, "Permission denied")
handler404 = json_error_view(404, "Not found")
handler500 = json_error_view(500, "Internal server error")
