"""Input rules and accounting shared by attachments and artifacts.

Every change of a group's stored bytes happens with the group row locked (SELECT ... FOR
UPDATE; SQLite's IMMEDIATE transaction holds the write lock already), in the same transaction
as the attachment/artifact row, with F() updates of Group.storage_used."""

import re
from datetime import timedelta

from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.core.exceptions import ApplicationError, FieldValidationError, NotFound, PermissionDenied, QuotaExceeded
from apps.groups.choices import GroupState, Role
from apps.groups.models import Group, Membership

from .. import backends
from ..models import ArtifactContentType

KEY_MAX_LENGTH = 1000
SIZE_MAX = 2**63 - 1
# An upload URL stays valid this long, so a younger row may still get its bytes: deleting it
# would free space an upload is about to use (Mitosis refuses it the same way).
DELETE_GRACE = timedelta(seconds=backends.UPLOAD_VALID_SECS)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's control characters (Cc): C0, DEL and C1

CONTENT_TYPE_ALIASES = {
    "result": ArtifactContentType.RESULT,
    "exec-log": ArtifactContentType.EXEC_LOG, "exec": ArtifactContentType.EXEC_LOG,
    "execlog": ArtifactContentType.EXEC_LOG,
    "std-log": ArtifactContentType.STD_LOG, "std": ArtifactContentType.STD_LOG, "stdlog": ArtifactContentType.STD_LOG,
    "terminal": ArtifactContentType.STD_LOG,
}


def validate_key(key, *, field: str = "key") -> str:
    """A relative path inside the group: non-empty segments, no "." / "..", no backslash, no
    leading "/", no control characters. Anything else could escape the group's prefix."""
    hint = "use a relative path of non-empty segments separated by '/', without '.', '..', '\\' or control characters"
    if not isinstance(key, str) or not key:
        raise FieldValidationError(f"required, a non-empty attachment key; {hint}", field=field)
    if len(key) > KEY_MAX_LENGTH:
        raise FieldValidationError(f"attachment key longer than {KEY_MAX_LENGTH} characters", field=field)
    segments = key.split("/")
    if "\\" in key or _CONTROL.search(key) or any(s in ("", ".", "..") for s in segments):
        raise FieldValidationError(f"{key!r} is not a valid attachment key; {hint}", field=field)
    return key


def validate_size(value, *, field: str = "content_length") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SIZE_MAX:
        raise FieldValidationError(f"{value!r} is not a size in bytes (an integer >= 0)", field=field)
    return value


def parse_content_type(value, *, field: str = "content_type") -> str:
    """result | exec-log | std-log, plus the aliases Mitosis accepts (exec, execlog, std, terminal...)."""
    found = CONTENT_TYPE_ALIASES.get(value.lower()) if isinstance(value, str) else None
    if found is None:
        raise FieldValidationError(f"{value!r} is not one of result, exec-log, std-log", field=field)
    return found.value


def display_name(content_type: str) -> str:
    return f"{content_type}.tar.gz"


def with_role(queryset, user, group_field: str = "pk"):
    """Annotate my_role: the user's role in the row's group (None if not a member)."""
    roles = Membership.objects.filter(group=OuterRef(group_field), user=user).values("role")[:1]
    return queryset.annotate(my_role=Subquery(roles))


def effective_role(user, my_role) -> int | None:
    return Role.ADMIN if user.is_staff else my_role


def check_role(user, obj, needed: Role, not_found: str):
    """Groups the user cannot read do not exist for them (404); too low a role is a 403."""
    role = effective_role(user, obj.my_role)
    if role is None:
        raise NotFound(not_found)
    if role < needed:
        raise PermissionDenied(f"Permission denied: this needs the {needed.label} role in the group")
    return role


def group_for(user, group_name: str, needed: Role, *, lock: bool = False, not_found: str | None = None) -> Group:
    queryset = Group.objects.select_for_update(of=("self",)) if lock else Group.objects
    group = with_role(queryset.filter(name=group_name), user).first()
    message = not_found or f"Group {group_name} not found"
    if group is None:
        raise NotFound(message)
    check_role(user, group, needed, message)
    return group


def locked_group(group_id: int) -> Group:
    return Group.objects.select_for_update().get(pk=group_id)


def upsert_reserved(model, group: Group, lookup: dict, content_length: int):
    """The attachment or artifact row of `lookup`, created or grown to content_length with the
    space reserved against the group's quota (locked by the caller). Returns (row, existed)."""
    row = model.objects.filter(**lookup).first()
    size = reserve(group, old_size=row.size if row else None, new_size=content_length)
    if row is not None:
        model.objects.filter(pk=row.pk).update(size=size, updated_at=timezone.now())
        return row, True
    return model.objects.create(**lookup, size=size), False


def reserve(group: Group, *, old_size: int | None, new_size: int, field: str = "content_length") -> int:
    """Account for an object growing to new_size (sizes only grow: Mitosis keeps max(old, new)).
    The group must be locked by the caller. Refuses, changing nothing, past the quota."""
    if group.state != GroupState.ACTIVE:
        raise ApplicationError(f"Group {group.name} is not active", field="group_name")
    delta = max(0, new_size - (old_size or 0))
    if group.storage_used + delta > group.storage_quota:
        raise QuotaExceeded("Resource quota exceeded")
    if delta:
        Group.objects.filter(pk=group.pk).update(storage_used=F("storage_used") + delta)
    return max(new_size, old_size or 0)


def release(sizes_by_group: dict[int, int]) -> None:
    """Give back freed bytes (never below zero), one UPDATE per group."""
    for group_id, freed in sorted(sizes_by_group.items()):
        if freed:
            Group.objects.filter(pk=group_id).update(storage_used=Greatest(F("storage_used") - freed, Value(0)))


def delete_after_commit(names: list[str]) -> None:
    names = list(names)
    if names:
        transaction.on_commit(lambda: backends.delete_objects(names))


def deletable_before():
    return timezone.now() - DELETE_GRACE
