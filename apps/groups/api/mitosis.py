"""Mitosis (seed 003) users, groups and admin endpoints: /login, /auth, /users, /groups, /admin.

Views translate; apps.groups.services decides. Request and response shapes are the seed's
component schemas (UserLoginReq, GroupQueryInfo, ...)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import dialects
from apps.core.parsers import parse_quota_change, parse_size
from apps.core.permissions import IsDroverAdmin
from apps.core.throttles import LOGIN_THROTTLES

from .. import services
from ..choices import Role, UserState
from ..models import Group, Membership, md5_bytes_secret

TAG_AUTH, TAG_USERS, TAG_GROUPS, TAG_ADMIN = "Mitosis: auth", "Mitosis: users", "Mitosis: groups", "Mitosis: admin"
ROLE_NAMES = [role.label for role in Role]


def md5_field(**kwargs):
    return serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=255), min_length=16, max_length=16, **kwargs
    )


class MitosisView(APIView):
    dialect = dialects.MITOSIS


def empty_ok() -> Response:
    """Mitosis answers these operations 200 with no body."""
    return Response(status=200)


# SECTION login and auth


class UserLoginReq(serializers.Serializer):
    username = serializers.CharField()
    md5_password = md5_field()
    retain = serializers.BooleanField(default=False)


class UserLoginResp(serializers.Serializer):
    token = serializers.CharField()


class LoginView(MitosisView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = LOGIN_THROTTLES

    @extend_schema(
        tags=[TAG_AUTH], operation_id="userLogin", request=UserLoginReq,
        responses={200: UserLoginResp, 400: OpenApiResponse(description="Bad request"),
                   401: OpenApiResponse(description="Wrong credentials"), 403: OpenApiResponse(description="User not active"),
                   429: OpenApiResponse(description="Too many attempts; retry after Retry-After seconds")},
    )
    def post(self, request):
        data = _valid(UserLoginReq, request.data)
        token = services.user_login(username=data["username"], md5_password=data["md5_password"], retain=data["retain"])
        return Response({"token": token})


class AuthView(MitosisView):
    @extend_schema(tags=[TAG_AUTH], operation_id="userAuth", responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request):
        return HttpResponse(request.user.username, content_type="text/plain; charset=utf-8")


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# SECTION users


class UserChangePasswordReq(serializers.Serializer):
    old_md5_password = md5_field()
    new_md5_password = md5_field()


class UserChangePasswordResp(serializers.Serializer):
    token = serializers.CharField()


class ChangePasswordView(MitosisView):
    @extend_schema(tags=[TAG_USERS], operation_id="changePassword", request=UserChangePasswordReq,
                   responses={200: UserChangePasswordResp})
    def post(self, request, username):
        data = _valid(UserChangePasswordReq, request.data)
        token = services.user_change_password(
            user=request.user, username=username, old_md5=data["old_md5_password"], new_md5=data["new_md5_password"]
        )
        return Response({"token": token})


class GroupsQueryResp(serializers.Serializer):
    groups = serializers.DictField(child=serializers.ChoiceField(choices=ROLE_NAMES))


class UserGroupsView(MitosisView):
    @extend_schema(tags=[TAG_USERS], operation_id="queryUserGroups", responses={200: GroupsQueryResp})
    def get(self, request):
        rows = Membership.objects.filter(user=request.user).values_list("group__name", "role")
        return Response({"groups": {name: Role(role).label for name, role in rows}})


# SECTION groups


class CreateGroupReq(serializers.Serializer):
    group_name = serializers.CharField()


class GroupQueryInfo(serializers.Serializer):
    group_name = serializers.CharField()
    creator_username = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=["Active", "Locked", "Deleted"])
    task_count = serializers.IntegerField()
    storage_quota = serializers.IntegerField()
    storage_used = serializers.IntegerField()
    worker_count = serializers.IntegerField()
    users_in_group = serializers.DictField(child=serializers.ChoiceField(choices=ROLE_NAMES), allow_null=True)


class GroupCreateView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="createGroup", request=CreateGroupReq,
                   responses={200: OpenApiResponse(description="Group created"), 409: OpenApiResponse(description="Exists")})
    def post(self, request):
        data = _valid(CreateGroupReq, request.data)
        services.group_create(creator=request.user, name=data["group_name"])
        return empty_ok()


class GroupDetailView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="getGroup", responses={200: GroupQueryInfo})
    def get(self, request, group_name):
        group = Group.objects.select_related("creator").filter(name=group_name).first()
        if group is None:
            raise services.NotFound(f"Group {group_name} not found")
        role = services.require_role(request.user, group, Role.READ)
        users = None
        if role == Role.ADMIN:  # only a group's admins see its member list, as in Mitosis
            users = {
                name: Role(r).label
                for name, r in Membership.objects.filter(group=group).values_list("user__username", "role")
            }
        counts = _group_counts(group)
        return Response({
            "group_name": group.name,
            "creator_username": group.creator.username,
            "created_at": _iso(group.created_at),
            "updated_at": _iso(group.updated_at),
            "state": group.state,
            "task_count": counts["task_count"],
            "storage_quota": group.storage_quota,
            "storage_used": group.storage_used,
            "worker_count": counts["worker_count"],
            "users_in_group": users,
        })


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _group_counts(group: Group) -> dict:
    from apps.jobs.models import Job

    # Mitosis workers (and so worker_count) arrive with the Mitosis issue.
    return {"task_count": Job.objects.filter(group=group).count(), "worker_count": 0}


class UpdateUserGroupRoleReq(serializers.Serializer):
    relations = serializers.DictField(child=serializers.ChoiceField(choices=ROLE_NAMES), allow_empty=False)


class GroupUsersView(MitosisView):
    @extend_schema(tags=[TAG_GROUPS], operation_id="updateUserGroup", request=UpdateUserGroupRoleReq,
                   responses={200: OpenApiResponse(description="Roles updated")})
    def put(self, request, group_name):
        data = _valid(UpdateUserGroupRoleReq, request.data)
        services.group_set_roles(actor=request.user, group_name=group_name, relations=data["relations"])
        return empty_ok()

    @extend_schema(
        tags=[TAG_GROUPS], operation_id="removeUserGroupParams",
        parameters=[OpenApiParameter("users", OpenApiTypes.STR, description="Comma-separated usernames", required=False)],
        responses={200: OpenApiResponse(description="Users removed")},
    )
    def delete(self, request, group_name):
        raw = request.query_params.getlist("users")
        usernames = [name for item in raw for name in item.split(",") if name]
        services.group_remove_users(actor=request.user, group_name=group_name, usernames=usernames)
        return empty_ok()


# SECTION admin


class AdminView(MitosisView):
    permission_classes = [IsDroverAdmin]


class CreateUserReq(serializers.Serializer):
    username = serializers.CharField()
    md5_password = md5_field()
    admin = serializers.BooleanField()


class UserStateResp(serializers.Serializer):
    state = serializers.ChoiceField(choices=UserState.values)


class AdminChangePasswordReq(serializers.Serializer):
    new_md5_password = md5_field()


class ChangeUserGroupQuota(serializers.Serializer):
    group_quota = serializers.CharField()


class UserGroupQuotaResp(serializers.Serializer):
    group_quota = serializers.IntegerField()


class ChangeGroupStorageQuotaReq(serializers.Serializer):
    storage_quota = serializers.CharField()


class GroupStorageQuotaResp(serializers.Serializer):
    storage_quota = serializers.IntegerField()


class AdminUsersView(AdminView):
    @extend_schema(tags=[TAG_ADMIN], operation_id="adminCreateUser", request=CreateUserReq,
                   responses={200: OpenApiResponse(description="User created"), 409: OpenApiResponse(description="Exists")})
    def post(self, request):
        data = _valid(CreateUserReq, request.data)
        services.user_create(username=data["username"], secret=md5_bytes_secret(data["md5_password"]), admin=data["admin"])
        return empty_ok()


class AdminUserView(AdminView):
    @extend_schema(tags=[TAG_ADMIN], operation_id="adminDeleteUser", responses={200: UserStateResp})
    def delete(self, request, username):
        user = services.user_set_state(username=username, state=UserState.DELETED)
        return Response({"state": user.state})


class AdminUserPasswordView(AdminView):
    @extend_schema(tags=[TAG_ADMIN], operation_id="adminChangeUserPassword", request=AdminChangePasswordReq,
                   responses={200: OpenApiResponse(description="Password changed")})
    def post(self, request, username):
        data = _valid(AdminChangePasswordReq, request.data)
        services.user_set_password(username=username, secret=md5_bytes_secret(data["new_md5_password"]))
        return empty_ok()


class AdminUserGroupQuotaView(AdminView):
    @extend_schema(tags=[TAG_ADMIN], operation_id="adminChangeUserGroupQuota", request=ChangeUserGroupQuota,
                   responses={200: UserGroupQuotaResp})
    def post(self, request, username):
        data = _valid(ChangeUserGroupQuota, request.data)
        change = parse_quota_change(data["group_quota"], field="group_quota")
        return Response({"group_quota": services.user_change_group_quota(username=username, change=change)})


class ChangeUserStateReq(serializers.Serializer):
    state = serializers.ChoiceField(choices=UserState.values)


class AdminUserStateView(AdminView):
    @extend_schema(tags=[TAG_ADMIN], operation_id="adminChangeUserState", request=ChangeUserStateReq,
                   responses={200: UserStateResp})
    def post(self, request, username):
        data = _valid(ChangeUserStateReq, request.data)
        user = services.user_set_state(username=username, state=data["state"])
        return Response({"state": user.state})


class AdminGroupStorageQuotaView(AdminView):
    @extend_schema(tags=[TAG_ADMIN], operation_id="adminChangeGroupStorageQuota", request=ChangeGroupStorageQuotaReq,
                   responses={200: GroupStorageQuotaResp})
    def post(self, request, group_name):
        data = _valid(ChangeGroupStorageQuotaReq, request.data)
        change = parse_quota_change(data["storage_quota"], field="storage_quota", unit_parser=parse_size)
        return Response({"storage_quota": services.group_change_storage_quota(group_name=group_name, change=change)})


class RedisConnectionInfo(serializers.Serializer):
    url = serializers.CharField(allow_null=True)


class RedisView(MitosisView):
    @extend_schema(tags=["Mitosis: pubsub"], operation_id="getRedisConnectionInfo", responses={200: RedisConnectionInfo})
    def get(self, request):
        from django.conf import settings

        return Response({"url": settings.DROVER_PUBLIC_REDIS_URL})
