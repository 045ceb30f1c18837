"""Mitosis (seed 003) group attachments: /groups/{group_name}/attachments..., the batch
download/delete forms and the admin delete. Keys may hold "/" (a path converter); the fixed
routes (attachments/query, download/attachments/list) also answer the key of that name."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from apps.core.mitosis import mitosis_time
from apps.core.permissions import IsDroverAdmin

from .. import services
from . import serializers as s
from .common import DOWNLOAD_RESPONSES, TAG_ADMIN, TAG_GROUPS, MitosisView, absolute, download_response, empty_ok

CONTENT_TYPE = s.ATTACHMENT_CONTENT_TYPE
KEY_PARAM = OpenApiParameter("key", str, OpenApiParameter.PATH, description="Attachment key; may contain '/'")


def _key_filter(data: dict) -> services.KeyFilter:
    return services.KeyFilter(key=data.get("key"), limit=data.get("limit"), offset=data.get("offset"))


def _downloads(request, group_name: str, items: list[dict]) -> Response:
    for item in items:
        item["url"] = absolute(request, item["url"])
    return Response({"downloads": items, "group_name": group_name})


class AttachmentUploadView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="uploadAttachment", request=s.UploadAttachmentReq,
                   responses={200: s.UploadAttachmentResp, 403: OpenApiResponse(description="Read role only, or "
                              "Resource quota exceeded"), 404: OpenApiResponse(description="No such group")})
    def post(self, request, group_name):
        data = s.valid(s.UploadAttachmentReq, request.data)
        exist, url = services.attachment_upload(user=request.user, group_name=group_name, key=data["key"],
                                                content_length=data["content_length"])
        return Response({"url": absolute(request, url), "exist": exist})


def _metadata(request, group_name: str, key: str) -> Response:
    row = services.attachment_get(user=request.user, group_name=group_name, key=key)
    return Response({"content_type": CONTENT_TYPE, "size": row.size, "created_at": mitosis_time(row.created_at),
                     "updated_at": mitosis_time(row.updated_at)})


def _delete(request, group_name: str, key: str) -> Response:
    services.attachment_delete(user=request.user, group_name=group_name, key=key)
    return empty_ok()


def _download(request, group_name: str, key: str) -> Response:
    url, size = services.attachment_download(user=request.user, group_name=group_name, key=key)
    return download_response(request, url, size)


class AttachmentView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="queryAttachment", parameters=[KEY_PARAM],
                   responses={200: s.AttachmentMetadata, 404: OpenApiResponse(description="Not found")})
    def get(self, request, group_name, key):
        return _metadata(request, group_name, key)

    @extend_schema(tags=[TAG_GROUPS], operation_id="deleteAttachment", parameters=[KEY_PARAM],
                   responses={200: OpenApiResponse(description="Attachment deleted successfully"),
                              400: OpenApiResponse(description="Updated within the last hour"),
                              403: OpenApiResponse(description="Read role only"),
                              404: OpenApiResponse(description="Not found")})
    def delete(self, request, group_name, key):
        return _delete(request, group_name, key)


class AttachmentQueryView(MitosisView):
    """POST queries; GET and DELETE are the attachment whose key is "query"."""

    @extend_schema(tags=[TAG_GROUPS], operation_id="queryAttachments", request=s.AttachmentsQueryReq,
                   responses={200: s.AttachmentsQueryResp})
    def post(self, request, group_name):
        data = s.valid(s.AttachmentsQueryReq, request.data)
        count, rows = services.attachments_query(user=request.user, group_name=group_name, filters=_key_filter(data),
                                                 count_only=data["count"])
        return Response({"count": count, "group_name": group_name, "attachments": [
            {"key": row.key, "content_type": CONTENT_TYPE, "size": row.size,
             "created_at": mitosis_time(row.created_at), "updated_at": mitosis_time(row.updated_at)} for row in rows]})

    @extend_schema(exclude=True)
    def get(self, request, group_name):
        return _metadata(request, group_name, "query")

    @extend_schema(exclude=True)
    def delete(self, request, group_name):
        return _delete(request, group_name, "query")


class AttachmentDownloadView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="downloadAttachment", parameters=[KEY_PARAM],
                   responses=DOWNLOAD_RESPONSES)
    def get(self, request, group_name, key):
        return _download(request, group_name, key)


class AttachmentsDownloadView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="batchDownloadAttachmentsByFilter",
                   request=s.AttachmentsDownloadByFilterReq, responses={200: s.AttachmentsDownloadListResp})
    def post(self, request, group_name):
        data = s.valid(s.AttachmentsDownloadByFilterReq, request.data)
        items = services.attachments_download(user=request.user, group_name=group_name, filters=_key_filter(data))
        return _downloads(request, group_name, items)


class AttachmentsDownloadListView(MitosisView):
    """POST downloads by keys; GET is the download of the attachment whose key is "list"."""

    @extend_schema(tags=[TAG_GROUPS], operation_id="batchDownloadAttachmentsByKeys",
                   request=s.AttachmentsDownloadByKeysReq, responses={200: s.AttachmentsDownloadListResp})
    def post(self, request, group_name):
        data = s.valid(s.AttachmentsDownloadByKeysReq, request.data)
        items = services.attachments_download(user=request.user, group_name=group_name, keys=data["keys"])
        return _downloads(request, group_name, items)

    @extend_schema(exclude=True)
    def get(self, request, group_name):
        return _download(request, group_name, "list")


class AttachmentsDeleteView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="batchDeleteAttachmentsByFilter",
                   request=s.AttachmentsDeleteByFilterReq, responses={200: s.AttachmentsDeleteByFilterResp})
    def post(self, request, group_name):
        data = s.valid(s.AttachmentsDeleteByFilterReq, request.data)
        deleted, _ = services.attachments_delete(user=request.user, group_name=group_name, filters=_key_filter(data))
        return Response({"deleted_count": deleted, "group_name": group_name})


class AttachmentsDeleteListView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="batchDeleteAttachmentsByKeys",
                   request=s.AttachmentsDeleteByKeysReq, responses={200: s.AttachmentsDeleteByKeysResp})
    def post(self, request, group_name):
        data = s.valid(s.AttachmentsDeleteByKeysReq, request.data)
        deleted, failed = services.attachments_delete(user=request.user, group_name=group_name, keys=data["keys"])
        return Response({"deleted_count": deleted, "failed_keys": failed, "group_name": group_name})


class AdminAttachmentView(MitosisView):
    permission_classes = [IsDroverAdmin]

    @extend_schema(tags=[TAG_ADMIN], operation_id="adminDeleteAttachment", parameters=[KEY_PARAM],
                   responses={200: OpenApiResponse(description="Attachment deleted successfully"),
                              403: OpenApiResponse(description="Not an admin"),
                              404: OpenApiResponse(description="Not found")})
    def delete(self, request, group_name, key):
        services.attachment_admin_delete(group_name=group_name, key=key)
        return empty_ok()
