"""A group's attachments: files under a key, uploaded and downloaded through URLs.

Reading (query, metadata, download) needs the Read role, writing (upload, delete) Write;
staff act as Admin everywhere. A group the user is not in answers 404 like a missing one."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import StrIndex

from apps.core.exceptions import FieldValidationError, NotFound
from apps.groups.choices import Role
from apps.groups.models import Group

from .. import backends
from ..models import Attachment, attachment_object_name
from . import common


def _missing(group_name: str, key: str) -> str:
    return f"Attachment of group {group_name} and key {key} not found"


@dataclass(frozen=True)
class KeyFilter:
    """AttachmentsQueryReq and its download/delete siblings: key substring, offset, limit."""

    key: str | None = None
    limit: int | None = None
    offset: int | None = None

    def matching(self, queryset):
        if self.key:
            # A substring, case-sensitive on every database (LIKE is not on SQLite).
            queryset = queryset.annotate(key_at=StrIndex("key", Value(self.key))).filter(key_at__gt=0)
        return queryset

    def apply(self, queryset):
        """matching(), in key order, the page of offset and limit."""
        queryset = self.matching(queryset).order_by("key")
        start = self.offset or 0
        return queryset[start:start + self.limit] if self.limit is not None else queryset[start:]


@transaction.atomic
def attachment_upload(*, user, group_name: str, key: str, content_length: int) -> tuple[bool, str]:
    """Create or grow the attachment and return (existed, upload URL). The space is reserved
    now, before the bytes arrive (Mitosis does the same); past the quota nothing changes."""
    key = common.validate_key(key)
    content_length = common.validate_size(content_length)
    group = common.group_for(user, group_name, Role.WRITE, lock=True)
    row, existed = common.upsert_reserved(Attachment, group, {"group": group, "key": key}, content_length)
    url = backends.upload_url(attachment_object_name(group.name, key), content_length=content_length,
                              ref=("attachment", row.pk))
    return existed, url


def attachment_get(*, user, group_name: str, key: str) -> Attachment:
    key = common.validate_key(key)
    group = common.group_for(user, group_name, Role.READ, not_found=_missing(group_name, key))
    row = Attachment.objects.filter(group=group, key=key).first()
    if row is None:
        raise NotFound(_missing(group_name, key))
    row.group = group
    return row


def attachment_download(*, user, group_name: str, key: str) -> tuple[str, int]:
    row = attachment_get(user=user, group_name=group_name, key=key)
    return backends.download_url(attachment_object_name(group_name, row.key), size=row.size), row.size


def attachments_query(*, user, group_name: str, filters: KeyFilter, count_only: bool = False):
    """(count, rows): count only, or the rows (count = how many were returned)."""
    group = common.group_for(user, group_name, Role.READ)
    queryset = Attachment.objects.filter(group=group)
    if count_only:  # every match: limit and offset page the rows, not the count
        return filters.matching(queryset).count(), []
    rows = list(filters.apply(queryset).only("key", "size", "created_at", "updated_at"))
    return len(rows), rows


def attachments_download(*, user, group_name: str, filters: KeyFilter | None = None,
                         keys: list[str] | None = None) -> list[dict]:
    """Download URLs (valid one day) for the attachments a filter or a key list names;
    missing keys are skipped."""
    group = common.group_for(user, group_name, Role.READ)
    queryset = Attachment.objects.filter(group=group)
    if keys is not None:
        rows = queryset.filter(key__in=_valid_keys(keys)).order_by("key")
    else:
        rows = (filters or KeyFilter()).apply(queryset)
    return [{"key": key, "url": backends.download_url(attachment_object_name(group.name, key), size=size, batch=True),
             "size": size} for key, size in rows.values_list("key", "size")]


@transaction.atomic
def attachment_delete(*, user, group_name: str, key: str) -> None:
    key = common.validate_key(key)
    group = common.group_for(user, group_name, Role.WRITE, lock=True, not_found=_missing(group_name, key))
    row = Attachment.objects.filter(group=group, key=key).first()
    if row is None:
        raise NotFound(_missing(group_name, key))
    if row.updated_at > common.deletable_before():
        raise FieldValidationError("Cannot delete attachment that has been updated in the last hour", field="key")
    _forget(group, [(row.pk, row.key, row.size)])


@transaction.atomic
def attachment_admin_delete(*, group_name: str, key: str) -> None:
    """Staff: no role check and no one-hour rule."""
    key = common.validate_key(key)
    group = Group.objects.select_for_update().filter(name=group_name).first()
    row = Attachment.objects.filter(group=group, key=key).first() if group else None
    if row is None:
        raise NotFound(_missing(group_name, key))
    _forget(group, [(row.pk, row.key, row.size)])


@transaction.atomic
def attachments_delete(*, user, group_name: str, filters: KeyFilter | None = None,
                       keys: list[str] | None = None) -> tuple[int, list[str]]:
    """Delete what a filter or a key list names, skipping rows updated within the last hour.
    Returns (deleted count, keys of the list that were not deleted)."""
    group = common.group_for(user, group_name, Role.WRITE, lock=True)
    queryset = Attachment.objects.filter(group=group)
    if keys is not None:
        keys = _valid_keys(keys)
        candidates = queryset.filter(key__in=keys)
    else:
        candidates = (filters or KeyFilter()).apply(queryset)
    cutoff = common.deletable_before()
    doomed = [(pk, key, size) for pk, key, size, updated in candidates.values_list("pk", "key", "size", "updated_at")
              if updated <= cutoff]
    _forget(group, doomed)
    gone = {key for _, key, _ in doomed}
    failed = [key for key in dict.fromkeys(keys)] if keys is not None else []
    return len(doomed), [key for key in failed if key not in gone]


def _forget(group: Group, rows: list[tuple[int, str, int]]) -> None:
    """Delete rows (id, key, size) of one locked group, free their bytes, and remove the objects
    once the transaction has committed."""
    if not rows:
        return
    Attachment.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    common.release({group.pk: sum(size for _, _, size in rows)})
    common.delete_after_commit([attachment_object_name(group.name, key) for _, key, _ in rows])


def _valid_keys(keys: list[str]) -> list[str]:
    if not keys:
        raise FieldValidationError("Keys list cannot be empty", field="keys")
    return [common.validate_key(key, field=f"keys.{index}") for index, key in enumerate(keys)]
