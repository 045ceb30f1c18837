"""Mitosis (seed 003) task artifacts: /tasks/{uuid}/artifacts..., the batch download/delete
forms (/tasks/download/artifacts, /tasks/delete/artifacts, by filter and by list), the admin
delete, and the workers' downloads of a task's resources."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from apps.core.permissions import IsDroverAdmin
from apps.workers.api.mitosis import WorkerView

from .. import services
from . import serializers as s
from .attachments import KEY_PARAM
from .common import (
    DOWNLOAD_RESPONSES,
    TAG_ADMIN,
    TAG_TASKS,
    TAG_WORKERS,
    MitosisView,
    absolute,
    download_response,
    empty_ok,
)

CONTENT_TYPE_PARAM = OpenApiParameter("content_type", str, OpenApiParameter.PATH,
                                      enum=["result", "exec-log", "std-log"], description="ArtifactContentType")
FILTER_KEYS = ("group_name", "creator_usernames", "tags", "labels", "states", "exit_status", "priority",
               "reporter_uuid")


def _task_filter(data: dict) -> dict:
    return {key: data.get(key) for key in FILTER_KEYS}


def _downloads(request, items: list[dict]) -> Response:
    for item in items:
        item["url"] = absolute(request, item["url"])
    return Response({"downloads": items})


class ArtifactUploadView(MitosisView):
    @extend_schema(tags=[TAG_TASKS], operation_id="uploadTaskArtifact", request=s.UploadArtifactReq,
                   responses={200: s.UploadArtifactResp, 403: OpenApiResponse(description="Read role only, or "
                              "Resource quota exceeded"), 404: OpenApiResponse(description="No such task")})
    def post(self, request, uuid):
        data = s.valid(s.UploadArtifactReq, request.data)
        exist, url = services.artifact_upload(user=request.user, uuid=uuid, content_type=data["content_type"],
                                              content_length=data["content_length"])
        return Response({"url": absolute(request, url), "exist": exist})


class ArtifactView(MitosisView):
    @extend_schema(tags=[TAG_TASKS], operation_id="deleteTaskArtifact", parameters=[CONTENT_TYPE_PARAM],
                   responses={200: OpenApiResponse(description="Artifact deleted successfully"),
                              400: OpenApiResponse(description="Updated within the last hour"),
                              403: OpenApiResponse(description="Read role only"),
                              404: OpenApiResponse(description="Not found")})
    def delete(self, request, uuid, content_type):
        services.artifact_delete(user=request.user, uuid=uuid, content_type=content_type)
        return empty_ok()


class ArtifactDownloadView(MitosisView):
    @extend_schema(tags=[TAG_TASKS], operation_id="downloadTaskArtifact", parameters=[CONTENT_TYPE_PARAM],
                   responses=DOWNLOAD_RESPONSES)
    def get(self, request, uuid, content_type):
        url, size = services.artifact_download(user=request.user, uuid=uuid, content_type=content_type)
        return download_response(request, url, size)


class ArtifactsDownloadView(MitosisView):
    @extend_schema(tags=[TAG_TASKS], operation_id="batchDownloadArtifactsByFilter",
                   request=s.ArtifactsDownloadByFilterReq, responses={200: s.ArtifactsDownloadListResp})
    def post(self, request):
        data = s.valid(s.ArtifactsDownloadByFilterReq, request.data)
        items = services.artifacts_download(user=request.user, content_type=data["content_type"],
                                            filters=_task_filter(data))
        return _downloads(request, items)


class ArtifactsDownloadListView(MitosisView):
    @extend_schema(tags=[TAG_TASKS], operation_id="batchDownloadArtifactsByUuids",
                   request=s.ArtifactsDownloadByUuidsReq, responses={200: s.ArtifactsDownloadListResp})
    def post(self, request):
        data = s.valid(s.ArtifactsDownloadByUuidsReq, request.data)
        items = services.artifacts_download(user=request.user, content_type=data["content_type"], uuids=data["uuids"])
        return _downloads(request, items)


class ArtifactsDeleteView(MitosisView):
    @extend_schema(tags=[TAG_TASKS], operation_id="batchDeleteArtifactsByFilter",
                   request=s.ArtifactsDeleteByFilterReq, responses={200: s.ArtifactsDeleteByFilterResp})
    def post(self, request):
        data = s.valid(s.ArtifactsDeleteByFilterReq, request.data)
        deleted, _ = services.artifacts_delete(user=request.user, content_type=data["content_type"],
                                               filters=_task_filter(data))
        return Response({"deleted_count": deleted})


class ArtifactsDeleteListView(MitosisView):
    @extend_schema(tags=[TAG_TASKS], operation_id="batchDeleteArtifactsByUuids",
                   request=s.ArtifactsDeleteByUuidsReq, responses={200: s.ArtifactsDeleteByUuidsResp})
    def post(self, request):
        data = s.valid(s.ArtifactsDeleteByUuidsReq, request.data)
        deleted, failed = services.artifacts_delete(user=request.user, content_type=data["content_type"],
                                                    uuids=data["uuids"])
        return Response({"deleted_count": deleted, "failed_uuids": failed})


class AdminArtifactView(MitosisView):
    permission_classes = [IsDroverAdmin]

    @extend_schema(tags=[TAG_ADMIN], operation_id="adminDeleteTaskArtifact", parameters=[CONTENT_TYPE_PARAM],
                   responses={200: OpenApiResponse(description="Artifact deleted successfully"),
                              403: OpenApiResponse(description="Not an admin"),
                              404: OpenApiResponse(description="Not found")})
    def delete(self, request, uuid, content_type):
        services.artifact_delete(user=request.user, uuid=uuid, content_type=content_type, admin=True)
        return empty_ok()


class WorkerArtifactDownloadView(WorkerView):
    @extend_schema(tags=[TAG_WORKERS], operation_id="downloadTaskArtifactForWorker", parameters=[CONTENT_TYPE_PARAM],
                   responses=DOWNLOAD_RESPONSES)
    def get(self, request, uuid, content_type):
        url, size = services.worker_artifact_download(worker=request.auth, uuid=uuid, content_type=content_type)
        return download_response(request, url, size)


class WorkerAttachmentDownloadView(WorkerView):
    @extend_schema(tags=[TAG_WORKERS], operation_id="downloadAttachmentForWorker", parameters=[KEY_PARAM],
                   responses=DOWNLOAD_RESPONSES)
    def get(self, request, uuid, key):
        url, size = services.worker_attachment_download(worker=request.auth, uuid=uuid, key=key)
        return download_response(request, url, size)
