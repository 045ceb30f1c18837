"""Plumbing of the storage views: the Mitosis base view and the two ways a URL leaves."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import dialects

from .serializers import RemoteResourceDownloadResp

TAG_GROUPS, TAG_TASKS, TAG_WORKERS, TAG_ADMIN = "Mitosis: groups", "Mitosis: tasks", "Mitosis: workers", "Mitosis: admin"

DOWNLOAD_RESPONSES = {
    302: OpenApiResponse(RemoteResourceDownloadResp, description="Redirect to download URL (Location); the body "
                         "repeats it with the size"),
    200: OpenApiResponse(RemoteResourceDownloadResp, description="The URL and size, without a redirect, when "
                         "DROVER_STORAGE_DOWNLOAD_REDIRECT is false (as the real Mitosis coordinator answers)"),
    404: OpenApiResponse(description="Not found"),
}


class MitosisView(APIView):
    dialect = dialects.MITOSIS


def absolute(request, url: str) -> str:
    """Local storage URLs are root-relative; clients need them absolute (S3 URLs already are)."""
    return request.build_absolute_uri(url)


def download_response(request, url: str, size: int) -> Response:
    """The seed answers single downloads 302 to the URL; real Mitosis clients expect 200 JSON."""
    body = {"url": absolute(request, url), "size": size}
    if settings.DROVER_STORAGE_DOWNLOAD_REDIRECT:
        return Response(body, status=302, headers={"Location": body["url"]})
    return Response(body)


def empty_ok() -> Response:
    """Mitosis answers deletes 200 with no body."""
    return Response(status=200)
