"""Mitosis (seed 003) request and response shapes of attachments and artifacts, named as the
seed's components. Responses are built as dicts by the views; these serializers validate input
and describe the schema."""

from rest_framework import serializers

from apps.jobs.api import mitosis_fields

from ..services.common import CONTENT_TYPE_ALIASES, SIZE_MAX

LIST_MAX = 1000  # items of one batch request (keys, uuids)
PAGE_MAX = 2**62
ATTACHMENT_CONTENT_TYPE = "application/octet-stream"  # the seed's only AttachmentContentType


class ArtifactContentTypeField(mitosis_fields.ArtifactContentTypeField):
    """result | exec-log | std-log (the seed's ArtifactContentType component); also accepts
    Mitosis' aliases (Result, exec, ExecLog, std, terminal, ...) and answers the canonical name."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data.lower() in CONTENT_TYPE_ALIASES:
            return CONTENT_TYPE_ALIASES[data.lower()].value
        self.fail("invalid_choice", input=data)


class AttachmentContentTypeField(mitosis_fields.SeedEnumField):
    component, values = "AttachmentContentType", (ATTACHMENT_CONTENT_TYPE,)


def mitosis_time_field():
    return serializers.CharField(help_text='Mitosis time, e.g. "2025-11-03 08:12:45.123456 +00:00:00"')


def size_field(**kwargs):
    return serializers.IntegerField(min_value=0, max_value=SIZE_MAX, **kwargs)


def key_field(**kwargs):
    # The services validate keys (and name the field); whitespace is part of a key.
    return serializers.CharField(trim_whitespace=False, allow_blank=True, **kwargs)


def page_field(**kwargs):
    # uint64 in Mitosis; capped so that offset + limit still fits a signed 64-bit LIMIT/OFFSET.
    return serializers.IntegerField(min_value=0, max_value=PAGE_MAX, required=False, allow_null=True, **kwargs)


def string_list(**kwargs):
    return serializers.ListField(child=serializers.CharField(trim_whitespace=False), required=False, allow_null=True,
                                 **kwargs)


# SECTION attachments


class UploadAttachmentReq(serializers.Serializer):
    key = key_field()
    content_length = size_field()


class UploadAttachmentResp(serializers.Serializer):
    url = serializers.URLField(help_text="Presigned URL for uploading the file (PUT the raw bytes)")
    exist = serializers.BooleanField(help_text="The attachment existed already (real Mitosis sends it too)")


class AttachmentMetadata(serializers.Serializer):
    content_type = AttachmentContentTypeField()
    size = serializers.IntegerField()
    created_at = mitosis_time_field()
    updated_at = mitosis_time_field()


class AttachmentsQueryReq(serializers.Serializer):
    key = key_field(required=False, allow_null=True, help_text="Filter attachments by part of the key")
    limit = page_field()
    offset = page_field()
    count = serializers.BooleanField(default=False)


class AttachmentQueryInfo(serializers.Serializer):
    key = serializers.CharField()
    content_type = AttachmentContentTypeField()
    size = serializers.IntegerField()
    created_at = mitosis_time_field()
    updated_at = mitosis_time_field()


class AttachmentsQueryResp(serializers.Serializer):
    count = serializers.IntegerField(min_value=0)
    attachments = AttachmentQueryInfo(many=True)
    group_name = serializers.CharField()


class AttachmentsDownloadByFilterReq(serializers.Serializer):
    key = key_field(required=False, allow_null=True)
    limit = page_field()
    offset = page_field()


class AttachmentsDownloadByKeysReq(serializers.Serializer):
    keys = serializers.ListField(child=key_field(), max_length=LIST_MAX)


class AttachmentDownloadItem(serializers.Serializer):
    key = serializers.CharField()
    url = serializers.URLField()
    size = serializers.IntegerField()


class AttachmentsDownloadListResp(serializers.Serializer):
    downloads = AttachmentDownloadItem(many=True)
    group_name = serializers.CharField()


class AttachmentsDeleteByFilterReq(AttachmentsDownloadByFilterReq):
    pass


class AttachmentsDeleteByKeysReq(AttachmentsDownloadByKeysReq):
    pass


class AttachmentsDeleteByFilterResp(serializers.Serializer):
    deleted_count = serializers.IntegerField(min_value=0)
    group_name = serializers.CharField()


class AttachmentsDeleteByKeysResp(serializers.Serializer):
    deleted_count = serializers.IntegerField(min_value=0)
    failed_keys = serializers.ListField(child=serializers.CharField())
    group_name = serializers.CharField()


class RemoteResourceDownloadResp(serializers.Serializer):
    url = serializers.URLField()
    size = serializers.IntegerField()


# SECTION artifacts


class UploadArtifactReq(serializers.Serializer):
    content_type = ArtifactContentTypeField()
    content_length = size_field()


class UploadArtifactResp(serializers.Serializer):
    url = serializers.URLField(help_text="Presigned URL for uploading the artifact (PUT the raw bytes)")
    exist = serializers.BooleanField(help_text="The artifact existed already (real Mitosis sends it too)")


class TaskFilterFields(serializers.Serializer):
    # The filter keys of TasksQueryReq (no limit/offset/count), as apps.jobs filter_tasks takes them.

    reporter_uuid = serializers.UUIDField(required=False, allow_null=True)
    creator_usernames = string_list()
    group_name = serializers.CharField(required=False, allow_null=True)
    tags = string_list()
    labels = string_list()
    states = serializers.ListField(child=mitosis_fields.TaskStateField(), required=False, allow_null=True)
    exit_status = serializers.CharField(required=False, allow_null=True)
    priority = serializers.CharField(required=False, allow_null=True)


class ArtifactsDownloadByFilterReq(TaskFilterFields):
    content_type = ArtifactContentTypeField()


class ArtifactsDownloadByUuidsReq(serializers.Serializer):
    uuids = serializers.ListField(child=serializers.UUIDField(), max_length=LIST_MAX)
    content_type = ArtifactContentTypeField()


class ArtifactDownloadItem(serializers.Serializer):
    uuid = serializers.UUIDField()
    url = serializers.URLField()
    size = serializers.IntegerField()


class ArtifactsDownloadListResp(serializers.Serializer):
    downloads = ArtifactDownloadItem(many=True)


class ArtifactsDeleteByFilterReq(TaskFilterFields):
    content_type = ArtifactContentTypeField()


class ArtifactsDeleteByUuidsReq(ArtifactsDownloadByUuidsReq):
    pass


class ArtifactsDeleteByFilterResp(serializers.Serializer):
    deleted_count = serializers.IntegerField(min_value=0)


class ArtifactsDeleteByUuidsResp(serializers.Serializer):
    deleted_count = serializers.IntegerField(min_value=0)
    failed_uuids = serializers.ListField(child=serializers.UUIDField())


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
