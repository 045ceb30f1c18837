"""Every write on users, groups, memberships and API keys. Views, the console and commands call
these; each is one transaction and raises apps.core.exceptions errors the dialects render."""

import re
import secrets

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.exceptions import (
    Conflict,
    FieldValidationError,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    Unauthenticated,
)
from apps.core import authcache
from apps.core.parsers import apply_quota_change

from . import tokens
from .choices import GroupState, Role, UserState
from .models import ApiKey, Group, Membership, User, md5_bytes_secret

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")  # Mitosis' name_validator


def validate_name(name: str, *, field: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FieldValidationError(
            f"{name!r} is not a valid name; use 1-255 ASCII letters, digits, '-' or '_'", field=field
        )
    return name


# SECTION users


@transaction.atomic
def user_create(*, username: str, secret: str | None = None, password: str | None = None, admin: bool = False) -> User:
    """Create a user with its personal group (same name, the user as Admin)."""
    validate_name(username, field="username")
    if User.objects.filter(username=username).exists() or Group.objects.filter(name=username).exists():
        raise Conflict(f"User or group with same name {username} already exists", field="username")
    user = User(username=username, is_staff=admin, is_superuser=admin, auth_signature=tokens.new_signature())
    if secret is not None:
        user.set_secret(secret)
    else:
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(f"User or group with same name {username} already exists", field="username") from None
    personal_group_ensure(user)
    return user


def personal_group_ensure(user: User) -> Group:
    """Every user has a group named after them, in which they are Admin."""
    group, _ = Group.objects.get_or_create(name=user.username, defaults={"creator": user})
    Membership.objects.update_or_create(user=user, group=group, defaults={"role": Role.ADMIN})
    return group


def user_get(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"User {username} not found") from None


def user_login(*, username: str, md5_password: list[int], retain: bool = False) -> str:
    """Mitosis /login: without `retain` a new signature ends the user's earlier tokens."""
    user = User.objects.filter(username=username).first()
    if user is None or not user.check_secret(md5_bytes_secret(md5_password)):
        raise Unauthenticated("Wrong credentials")
    if user.state != UserState.ACTIVE:
        raise PermissionDenied(f"User {username} is {user.state}")
    if not retain or not user.auth_signature:
        user.auth_signature = tokens.new_signature()
        User.objects.filter(pk=user.pk).update(auth_signature=user.auth_signature)
    return tokens.access_token_for(user)


@transaction.atomic
def user_change_password(*, user: User, username: str, old_md5: list[int], new_md5: list[int]) -> str:
    """Own password only; returns a fresh token and ends every other one."""
    if user.username != username:
        raise PermissionDenied("You can only change your own password")
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.check_secret(md5_bytes_secret(old_md5)):
        raise Unauthenticated("Wrong credentials", field="old_md5_password")
    user.set_secret(md5_bytes_secret(new_md5))
    user.auth_signature = tokens.new_signature()
    user.save(update_fields=["password", "auth_signature"])
    return tokens.access_token_for(user)


@transaction.atomic
def user_set_password(*, username: str, secret: str | None = None, password: str | None = None) -> User:
    """Admin: set a user's password; their existing tokens stop working."""
    user = user_get(username)
    if secret is not None:
        user.set_secret(secret)
    else:
        user.set_password(password)
    user.auth_signature = tokens.new_signature()
    user.save(update_fields=["password", "auth_signature"])
    return user


@transaction.atomic
def user_set_state(*, username: str, state: str) -> User:
    if state not in UserState.values:
        raise FieldValidationError(f"{state!r} is not one of {', '.join(UserState.values)}", field="state")
    user = user_get(username)
    user.state = state
    user.is_active = state == UserState.ACTIVE
    user.save(update_fields=["state", "is_active"])
    return user


@transaction.atomic
def user_change_group_quota(*, username: str, change: tuple[str, int]) -> int:
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        raise NotFound(f"User {username} not found")
    user.group_quota = min(apply_quota_change(user.group_quota, change), 2**31 - 1)
    user.save(update_fields=["group_quota"])
    return user.group_quota


# SECTION groups


def group_get(name: str) -> Group:
    try:
        return Group.objects.get(name=name)
    except Group.DoesNotExist:
        raise NotFound(f"Group {name} not found") from None


def role_of(user: User, group: Group) -> Role | None:
    role = Membership.objects.filter(user=user, group=group).values_list("role", flat=True).first()
    return Role(role) if role is not None else None


def require_role(user: User, group: Group, needed: Role) -> Role:
    """Staff act as Admin everywhere; others need a membership with at least `needed`."""
    if user.is_staff:
        return Role.ADMIN
    role = role_of(user, group)
    if role is None or role < needed:
        raise PermissionDenied(f"Group {group.name} needs the {needed.label} role")
    return role


@transaction.atomic
def group_create(*, creator: User, name: str) -> Group:
    validate_name(name, field="group_name")
    creator = User.objects.select_for_update().get(pk=creator.pk)
    if Group.objects.filter(creator=creator).count() >= creator.group_quota:
        raise QuotaExceeded(f"Group quota of {creator.group_quota} reached", field="group_name")
    if Group.objects.filter(name=name).exists() or User.objects.filter(username=name).exists():
        raise Conflict(f"User or group with same name {name} already exists", field="group_name")
    group = Group.objects.create(name=name, creator=creator)
    Membership.objects.create(user=creator, group=group, role=Role.ADMIN)
    return group


def _users_named(usernames, *, field: str) -> dict[str, User]:
    users = {u.username: u for u in User.objects.filter(username__in=list(usernames))}
    missing = sorted(set(usernames) - set(users))
    if missing:
        raise FieldValidationError(f"Some users do not exist: {', '.join(missing)}", field=field)
    return users


@transaction.atomic
def group_set_roles(*, actor: User, group_name: str, relations: dict[str, str]) -> None:
    """Add users to a group or change their roles (group Admin only)."""
    if not relations:
        raise FieldValidationError("Empty group relations", field="relations")
    group = group_get(group_name)
    require_role(actor, group, Role.ADMIN)
    roles = {}
    for username, role_name in relations.items():
        try:
            roles[username] = Role.from_name(role_name)
        except ValueError:
            raise FieldValidationError(f"{role_name!r} is not one of Read, Write, Admin", field=f"relations.{username}") from None
    users = _users_named(roles, field="relations")
    existing = {m.user_id: m for m in Membership.objects.filter(group=group, user__in=users.values())}
    new, changed = [], []
    for username, role in roles.items():
        member = existing.get(users[username].pk)
        if member is None:
            new.append(Membership(user=users[username], group=group, role=role))
        elif member.role != role:
            member.role = role
            changed.append(member)
    Membership.objects.bulk_create(new)
    Membership.objects.bulk_update(changed, ["role"])
    Group.objects.filter(pk=group.pk).update(updated_at=timezone.now())
    _unlink_workers(group, [m.user_id for m in changed if m.role < Role.WRITE])


@transaction.atomic
def group_remove_users(*, actor: User, group_name: str, usernames: list[str]) -> int:
    if not usernames:
        raise FieldValidationError("Empty group relations", field="users")
    group = group_get(group_name)
    require_role(actor, group, Role.ADMIN)
    users = _users_named(usernames, field="users")
    deleted, _ = Membership.objects.filter(group=group, user__in=users.values()).delete()
    _unlink_workers(group, [u.pk for u in users.values()])
    return deleted


def _unlink_workers(group: Group, user_ids: list[int]) -> None:
    """Users who may no longer submit to `group` take their workers out of it: a worker serves
    a group only while its creator could submit there (staff always can)."""
    from apps.core.authentication import forget_workers
    from apps.workers.models import GroupWorker  # workers build on groups, not the other way

    links = GroupWorker.objects.filter(group=group, worker__creator_id__in=user_ids,
                                       worker__creator__is_staff=False)
    uuids = list(links.values_list("worker__uuid", flat=True))
    if uuids:
        links.delete()
        forget_workers(uuids)


@transaction.atomic
def group_change_storage_quota(*, group_name: str, change: tuple[str, int]) -> int:
    group = Group.objects.select_for_update().filter(name=group_name).first()
    if group is None:
        raise NotFound(f"Group {group_name} not found")
    group.storage_quota = apply_quota_change(group.storage_quota, change)
    group.save(update_fields=["storage_quota", "updated_at"])
    return group.storage_quota


def group_set_state(*, group_name: str, state: str) -> Group:
    if state not in GroupState.values:
        raise FieldValidationError(f"{state!r} is not one of {', '.join(GroupState.values)}", field="state")
    updated = Group.objects.filter(name=group_name).update(state=state)
    if not updated:
        raise NotFound(f"Group {group_name} not found")
    return group_get(group_name)


def storage_reserve(*, group_id: int, nbytes: int) -> None:
    """Account `nbytes` against the group's storage quota in one conditional UPDATE."""
    updated = Group.objects.filter(pk=group_id, storage_used__lte=F("storage_quota") - nbytes).update(
        storage_used=F("storage_used") + nbytes
    )
    if not updated:
        raise QuotaExceeded("Resource quota exceeded: group storage quota")


def storage_release(*, group_id: int, nbytes: int) -> None:
    Group.objects.filter(pk=group_id).update(storage_used=F("storage_used") - nbytes)


# SECTION API keys

API_KEY_PREFIX = "drv_"


@transaction.atomic
def api_key_create(*, user: User, name: str = "") -> tuple[ApiKey, str]:
    """Returns the key row and the key itself, which is shown once and never stored."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey.objects.create(user=user, name=name, prefix=key[:12], key_hash=ApiKey.hash_key(key))
    return row, key


def api_key_revoke(*, key_id: int) -> None:
    ApiKey.objects.filter(pk=key_id).update(revoked=True)
    authcache.clear()  # an UPDATE sends no signal
