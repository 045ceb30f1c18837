"""Mitosis (seed 003) task query and batch cancel: POST /tasks/query, /tasks/cancel (by the same
filter) and /tasks/cancel/list (by uuids). The filter is services.task_query.filter_tasks."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.core.exceptions import FieldValidationError
from apps.groups.choices import Role

from ..services import tasks
from ..services.task_query import filter_tasks, task_group
from .mitosis import TAG, MitosisView, ParsedTaskQueryInfo, task_info
from .mitosis_fields import TaskStateField

# Offsets and limits are uint64 in Mitosis; two of these still add up within a signed 64-bit LIMIT.
MAX_PAGE = 2**62
CANCEL_STATES = {"Ready", "Pending"}  # tasks a user cancels: not yet taken by a worker


def _names(**kwargs):
    return serializers.ListField(child=serializers.CharField(max_length=255), required=False, allow_null=True,
                                 **kwargs)


class TasksFilter(serializers.Serializer):
    """The filter keys /tasks/query and /tasks/cancel share (empty lists are refused by the
    service, with Mitosis' messages)."""

    creator_usernames = _names(help_text="any of these creators")
    group_name = serializers.CharField(required=False, allow_null=True,
                                       help_text="default: the caller's own group")
    tags = _names(help_text="tasks having all of these tags")
    labels = _names(help_text="tasks having all of these labels")
    states = serializers.ListField(child=TaskStateField(), required=False, allow_null=True)
    exit_status = serializers.CharField(required=False, allow_null=True, help_text='e.g. "0", "!=0", ">=256"')
    priority = serializers.CharField(required=False, allow_null=True, help_text='e.g. ">5", "<=10"')


class TasksQueryReq(TasksFilter):
    reporter_uuid = serializers.UUIDField(required=False, allow_null=True)
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_PAGE)
    offset = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_PAGE)
    count = serializers.BooleanField(required=False, default=False)


class TaskQueryInfo(ParsedTaskQueryInfo):
    """The seed's query rows: the parsed info with spec and result left as plain objects."""

    spec = serializers.DictField(help_text="the task's TaskSpec")
    result = serializers.DictField(allow_null=True, required=False, help_text="TaskResultSpec once ended")


class TasksQueryResp(serializers.Serializer):
    count = serializers.IntegerField(help_text="the number of matching tasks with count=true, else of those listed")
    tasks = TaskQueryInfo(many=True)
    group_name = serializers.CharField()


class TasksCancelByFilterReq(TasksFilter):
    pass


class TasksCancelByFilterResp(serializers.Serializer):
    cancelled_count = serializers.IntegerField()
    group_name = serializers.CharField()


class TasksCancelByUuidsReq(serializers.Serializer):
    uuids = serializers.ListField(child=serializers.UUIDField())


class TasksCancelByUuidsResp(serializers.Serializer):
    cancelled_count = serializers.IntegerField()
    failed_uuids = serializers.ListField(child=serializers.UUIDField())


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TasksQueryView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="queryTasks", request=TasksQueryReq, responses={200: TasksQueryResp})
    def post(self, request):
        filters = _valid(TasksQueryReq, request.data)
        group = task_group(request.user, filters.get("group_name"))
        matching = filter_tasks(request.user, filters, group=group)
        if filters["count"]:
            return Response({"count": matching.count(), "tasks": [], "group_name": group.name})
        offset, limit = filters.get("offset") or 0, filters.get("limit")
        page = matching[offset:offset + limit] if limit is not None else matching[offset:]
        listed = [task_info(job) for job in page]
        return Response({"count": len(listed), "tasks": listed, "group_name": group.name})


class TasksCancelView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="cancelTasksByFilter", request=TasksCancelByFilterReq,
                   responses={200: TasksCancelByFilterResp})
    def post(self, request):
        filters = dict(_valid(TasksCancelByFilterReq, request.data))
        group = task_group(request.user, filters.get("group_name"), needed=Role.WRITE)
        if filters.get("states") == []:
            raise FieldValidationError("State cannot be empty if specified", field="states")
        # As Mitosis: the states asked for among Ready and Pending, or both when none of them is.
        states = CANCEL_STATES & set(filters.get("states") or ())
        filters["states"] = sorted(states or CANCEL_STATES)
        cancelled = tasks.tasks_cancel(tasks=filter_tasks(request.user, filters, group=group))
        return Response({"cancelled_count": len(cancelled), "group_name": group.name})


class TasksCancelListView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="cancelTasksByUuids", request=TasksCancelByUuidsReq,
                   responses={200: TasksCancelByUuidsResp})
    def post(self, request):
        uuids = _valid(TasksCancelByUuidsReq, request.data)["uuids"]
        if not uuids:
            raise FieldValidationError("UUIDs list cannot be empty", field="uuids")
        count, failed = tasks.tasks_cancel_by_uuids(user=request.user, uuids=uuids)
        return Response({"cancelled_count": count, "failed_uuids": [str(u) for u in failed]})
