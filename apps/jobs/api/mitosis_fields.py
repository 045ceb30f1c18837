"""Mitosis (seed 003) task value types as serializer fields and serializers: TaskSpec with its
resources and watch, the seed's enums as named components (TaskState, TaskExecState,
ArtifactContentType, TaskResultMessage), results and artifacts. Other apps import these rather
than declaring the same component names again (drf-spectacular refuses two classes per name)."""

import uuid as uuid_lib

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from ..services.task_query import TASK_STATES
from ..services.watch import TASK_EXEC_STATES, TASK_RESULT_MESSAGES

ARTIFACT_CONTENT_TYPES = ("result", "exec-log", "std-log")
# Mitosis' serde aliases for ArtifactContentType (entity/content.rs).
_CONTENT_TYPE_ALIASES = {
    **dict.fromkeys(("result", "Result", "RESULT"), "result"),
    **dict.fromkeys(("exec-log", "exec", "Exec", "EXEC", "execlog", "Execlog", "EXECLOG", "ExecLog"), "exec-log"),
    **dict.fromkeys(("std-log", "std", "Std", "STD", "stdlog", "Stdlog", "STDLOG", "terminal", "Terminal",
                     "TERMINAL"), "std-log"),
}


def enum_component(auto_schema, name: str, values) -> dict:
    """A named string-enum component ({"$ref": ...}), registered once."""
    component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name,
                                  schema={"type": "string", "enum": list(values)})
    auto_schema.registry.register_on_missing(component)
    return component.ref


class SeedSchema:
    """Mixin: the field describes itself in OpenAPI (see SeedSchemaExtension)."""

    def openapi(self, auto_schema, direction) -> dict:
        raise NotImplementedError


class SeedSchemaExtension(OpenApiSerializerFieldExtension):
    target_class = SeedSchema
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return self.target.openapi(auto_schema, direction)


class SeedEnumField(SeedSchema, serializers.ChoiceField):
    """A ChoiceField rendered as a $ref to the seed's enum component, not an inline enum (whose
    generated name would collide with other "state" enums)."""

    component = ""
    values: tuple = ()

    def __init__(self, **kwargs):
        super().__init__(choices=self.values, **kwargs)

    def openapi(self, auto_schema, direction):
        return enum_component(auto_schema, self.component, self.values)


class TaskStateField(SeedEnumField):
    component, values = "TaskState", TASK_STATES


class TaskResultMessageField(SeedEnumField):
    component, values = "TaskResultMessage", TASK_RESULT_MESSAGES


class ArtifactContentTypeField(SeedEnumField):
    component, values = "ArtifactContentType", ARTIFACT_CONTENT_TYPES


def _uuid_text(value, what: str) -> str:
    try:
        return str(uuid_lib.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise serializers.ValidationError(f"{value!r} is not a valid {what} uuid") from None


class WatchField(SeedSchema, serializers.Field):
    """spec.watch: [task uuid, TaskExecState name], or null."""

    def to_internal_value(self, data):
        if not isinstance(data, list) or len(data) != 2:
            raise serializers.ValidationError("must be [task uuid, TaskExecState], e.g. [\"<uuid>\", \"ExecFinished\"]")
        target = data[1]
        if not isinstance(data[0], str):
            raise serializers.ValidationError(f"{data[0]!r} is not a valid task uuid")
        uuid_text = _uuid_text(data[0], "task")
        if target not in TASK_EXEC_STATES:
            raise serializers.ValidationError(
                f"{target!r} is not a TaskExecState; use one of {', '.join(TASK_EXEC_STATES)}")
        return [uuid_text, target]

    def to_representation(self, value):
        return value

    def openapi(self, auto_schema, direction):
        state = enum_component(auto_schema, "TaskExecState", TASK_EXEC_STATES)
        return {"type": "array", "items": {"oneOf": [{"type": "string", "format": "uuid"}, state]},
                "minItems": 2, "maxItems": 2, "nullable": True,
                "description": "Watch another task until it reaches the given state"}


class RemoteResourceField(SeedSchema, serializers.Field):
    """{"Artifact": {"uuid", "content_type"}} or {"Attachment": {"key"}}; content types are
    normalised to their kebab-case names."""

    def to_internal_value(self, data):
        if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in ("Artifact", "Attachment"):
            raise serializers.ValidationError('must be {"Artifact": {"uuid", "content_type"}} or '
                                              '{"Attachment": {"key"}}')
        kind, body = next(iter(data.items()))
        if not isinstance(body, dict):
            raise serializers.ValidationError(f"{kind}: must be an object")
        if kind == "Attachment":
            key = body.get("key")
            if not isinstance(key, str) or not key:
                raise serializers.ValidationError("Attachment.key: required, a non-empty string")
            return {"Attachment": {"key": key}}
        given = body.get("content_type")
        content_type = _CONTENT_TYPE_ALIASES.get(given) if isinstance(given, str) else None
        if content_type is None:
            raise serializers.ValidationError(
                f"Artifact.content_type: {given!r} is not one of {', '.join(ARTIFACT_CONTENT_TYPES)}")
        return {"Artifact": {"uuid": _uuid_text(body.get("uuid"), "Artifact"), "content_type": content_type}}

    def to_representation(self, value):
        return value

    def openapi(self, auto_schema, direction):
        content_type = enum_component(auto_schema, "ArtifactContentType", ARTIFACT_CONTENT_TYPES)
        artifact = {"type": "object", "required": ["uuid", "content_type"],
                    "properties": {"uuid": {"type": "string", "format": "uuid"}, "content_type": content_type}}
        attachment = {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}
        return {"oneOf": [
            {"type": "object", "required": ["Artifact"], "properties": {"Artifact": artifact}},
            {"type": "object", "required": ["Attachment"], "properties": {"Attachment": attachment}},
        ]}


class RemoteResourceDownload(serializers.Serializer):
    remote_file = RemoteResourceField()
    local_path = serializers.CharField(trim_whitespace=False)


class TaskSpec(serializers.Serializer):
    # Arguments and environment values are passed to the process as given: no trimming.
    args = serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False),
                                 allow_empty=False)
    envs = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False),
                                 required=False, default=dict)
    resources = serializers.ListField(child=RemoteResourceDownload(), required=False, default=list)
    terminal_output = serializers.BooleanField(required=False, default=False)
    watch = WatchField(required=False, allow_null=True, default=None)


class TaskResultSpec(serializers.Serializer):
    exit_status = serializers.IntegerField()
    msg = TaskResultMessageField(allow_null=True, required=False)


class ArtifactQueryResp(serializers.Serializer):
    content_type = ArtifactContentTypeField()
    size = serializers.IntegerField()
    created_at = serializers.CharField(help_text='Mitosis time, e.g. "2025-11-03 08:12:45.123456 +00:00:00"')
    updated_at = serializers.CharField()


class ErrorMsg(serializers.Serializer):
    msg = serializers.CharField()
