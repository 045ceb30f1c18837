"""Torc (seed 000) files and user data."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.core import torc
from apps.core.torc import TorcView, bool_param, int_param
from apps.workflows.services import object_in_workflow, workflow_for

from .. import services
from ..models import File, UserData

TAG = "Torc"
ANY = OpenApiTypes.OBJECT


def file_dict(f: File) -> dict:
    return {"id": f.pk, "workflow_id": f.workflow_id, "name": f.name, "path": f.path, "st_mtime": f.st_mtime}


def user_data_dict(u: UserData) -> dict:
    return {"id": u.pk, "workflow_id": u.workflow_id, "name": u.name, "is_ephemeral": u.is_ephemeral,
            "data": u.data}


class FileIn(serializers.Serializer):
    workflow_id = serializers.IntegerField()
    name = serializers.CharField(max_length=255)
    path = serializers.CharField(max_length=4096)
    st_mtime = serializers.FloatField(required=False, allow_null=True)


class UserDataIn(serializers.Serializer):
    workflow_id = serializers.IntegerField()
    name = serializers.CharField(max_length=255)
    is_ephemeral = serializers.BooleanField(required=False, allow_null=True)
    data = serializers.JSONField(required=False, allow_null=True, validators=[torc.no_null_characters])


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v is not None or k in ("data", "st_mtime")}


def owned(request, model, pk, *, write=False):
    return object_in_workflow(request.user, model.objects.all(), pk,
                              label=model._meta.verbose_name.capitalize(), write=write)


class FileListView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_files", responses={200: ANY},
                   parameters=[OpenApiParameter("workflow_id", int, required=True),
                               OpenApiParameter("produced_by_job_id", int), OpenApiParameter("name", str),
                               OpenApiParameter("path", str), OpenApiParameter("is_output", bool)])
    def get(self, request):
        workflow = workflow_for(request.user, int_param(request, "workflow_id", required=True))
        qs = File.objects.filter(workflow=workflow).order_by("id")
        for name in ("name", "path"):
            if torc.str_param(request, name):
                qs = qs.filter(**{name: torc.str_param(request, name)})
        producer = int_param(request, "produced_by_job_id", None)
        if producer is not None:
            qs = qs.filter(job_links__job_id=producer, job_links__is_output=True)
        is_output = bool_param(request, "is_output", None)
        if is_output is not None:
            qs = qs.filter(job_links__is_output=is_output).distinct()
        return Response(torc.paged(request, qs, seed_key="files", to_dict=file_dict))

    @extend_schema(tags=[TAG], operation_id="torc_create_file", request=FileIn, responses={200: ANY})
    def post(self, request):
        data = valid(FileIn, request.data)
        workflow_for(request.user, data["workflow_id"], write=True)
        return Response(file_dict(services.file_save(**data)))


class FileDetailView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_file", responses={200: ANY})
    def get(self, request, file_id):
        return Response(file_dict(owned(request, File, file_id)))

    @extend_schema(tags=[TAG], operation_id="torc_update_file", request=FileIn, responses={200: ANY})
    def put(self, request, file_id):
        f = owned(request, File, file_id, write=True)
        data = valid(FileIn, request.data)
        data["workflow_id"] = f.workflow_id
        return Response(file_dict(services.file_save(instance=f, **data)))

    @extend_schema(tags=[TAG], operation_id="torc_delete_file", responses={200: ANY})
    def delete(self, request, file_id):
        f = owned(request, File, file_id, write=True)
        body = file_dict(f)
        f.delete()
        return Response(body)


class UserDataListView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_user_data", responses={200: ANY},
                   parameters=[OpenApiParameter("workflow_id", int, required=True),
                               OpenApiParameter("consumer_job_id", int), OpenApiParameter("producer_job_id", int),
                               OpenApiParameter("name", str), OpenApiParameter("is_ephemeral", bool)])
    def get(self, request):
        workflow = workflow_for(request.user, int_param(request, "workflow_id", required=True))
        qs = UserData.objects.filter(workflow=workflow).order_by("id")
        if torc.str_param(request, "name"):
            qs = qs.filter(name=torc.str_param(request, "name"))
        for param, is_output in (("consumer_job_id", False), ("producer_job_id", True)):
            job_id = int_param(request, param, None)
            if job_id is not None:
                qs = qs.filter(job_links__job_id=job_id, job_links__is_output=is_output)
        ephemeral = bool_param(request, "is_ephemeral", None)
        if ephemeral is not None:
            qs = qs.filter(is_ephemeral=ephemeral)
        return Response(torc.paged(request, qs, seed_key="user_data", to_dict=user_data_dict))

    @extend_schema(tags=[TAG], operation_id="torc_create_user_data", request=UserDataIn, responses={200: ANY},
                   parameters=[OpenApiParameter("consumer_job_id", int), OpenApiParameter("producer_job_id", int)])
    def post(self, request):
        data = valid(UserDataIn, request.data)
        workflow_for(request.user, data["workflow_id"], write=True)
        ud = services.user_data_save(consumer_job_id=int_param(request, "consumer_job_id", None),
                                     producer_job_id=int_param(request, "producer_job_id", None), **data)
        return Response(user_data_dict(ud))


class UserDataDetailView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_user_data", responses={200: ANY})
    def get(self, request, user_data_id):
        return Response(user_data_dict(owned(request, UserData, user_data_id)))

    @extend_schema(tags=[TAG], operation_id="torc_update_user_data", request=UserDataIn, responses={200: ANY})
    def put(self, request, user_data_id):
        ud = owned(request, UserData, user_data_id, write=True)
        data = valid(UserDataIn, request.data)
        data["workflow_id"] = ud.workflow_id
        data.setdefault("data", None)
        return Response(user_data_dict(services.user_data_save(instance=ud, **data)))

    @extend_schema(tags=[TAG], operation_id="torc_delete_user_data", responses={200: ANY})
    def delete(self, request, user_data_id):
        ud = owned(request, UserData, user_data_id, write=True)
        body = user_data_dict(ud)
        ud.delete()
        return Response(body)
