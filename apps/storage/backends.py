"""Where attachment and artifact bytes live, and the URLs that move them.

The storage is STORAGES["mitosis"] (settings DROVER_STORAGE_BACKEND):
- local: LocalObjectStorage under DROVER_STORAGE_ROOT. Drover serves the URLs itself
  (/storage/upload/<token>, /storage/download/<token>, apps.storage.api.local); the token is a
  django.core.signing payload naming the object, its declared size and its expiry, so the
  signature is the only credential and nothing else authenticates those requests.
- s3: django-storages' S3Storage; URLs are presigned by the bucket's own boto3 client.

Lifetimes are Mitosis': an upload URL lasts 3600 s; a download URL max(1 h, size / 1 MB s)
capped at one day, and batch download URLs always one day.
"""

import hashlib
import logging
import time

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage, storages
from django.urls import reverse
from django.utils._os import safe_join

logger = logging.getLogger("drover.storage")

STORAGE_ALIAS = "mitosis"
UPLOAD_VALID_SECS = 3600
DOWNLOAD_MIN_SECS = 3600
DOWNLOAD_MAX_SECS = 86400
BATCH_DOWNLOAD_SECS = 86400
UPLOAD_SALT = "drover.storage.upload"
DOWNLOAD_SALT = "drover.storage.download"
S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


class LocalObjectStorage(FileSystemStorage):
    """Names are "<kind>/<owner>/<rest>" where rest (an attachment key) may hold "/". On disk rest
    becomes its SHA-256, so that keys "a" and "a/b" can both exist (a file cannot also be a
    directory) and a long key never exceeds the file system's name length."""

    def path(self, name):
        parts = str(name).split("/", 2)
        if len(parts) != 3 or not all(parts):
            return super().path(name)
        kind, owner, rest = parts
        return safe_join(self.location, kind, owner, hashlib.sha256(rest.encode()).hexdigest())


def object_storage():
    return storages[STORAGE_ALIAS]


def is_s3(storage=None) -> bool:
    from storages.backends.s3 import S3Storage

    return isinstance(storage or object_storage(), S3Storage)


def is_local(storage=None) -> bool:
    return isinstance(storage or object_storage(), FileSystemStorage)


def download_lifetime(size: int, *, batch: bool = False) -> int:
    seconds = min(DOWNLOAD_MAX_SECS, max(DOWNLOAD_MIN_SECS, size // 1_000_000))
    return max(seconds, BATCH_DOWNLOAD_SECS) if batch else seconds


def upload_url(name: str, *, content_length: int, ref: tuple[str, int]) -> str:
    """A PUT URL for exactly content_length bytes. ref ("attachment"|"artifact", row id) lets the
    local endpoint refuse an upload whose row was deleted meanwhile."""
    storage = object_storage()
    if is_s3(storage):
        return _presign(storage, "put_object", name, UPLOAD_VALID_SECS, ContentLength=content_length)
    token = _sign({"n": name, "l": content_length, "r": list(ref)}, UPLOAD_SALT, UPLOAD_VALID_SECS)
    return _local_url("storage-upload", token)


def download_url(name: str, *, size: int, batch: bool = False) -> str:
    storage = object_storage()
    lifetime = download_lifetime(size, batch=batch)
    if is_s3(storage):
        return _presign(storage, "get_object", name, lifetime)
    return _local_url("storage-download", _sign({"n": name}, DOWNLOAD_SALT, lifetime))


def delete_objects(names: list[str]) -> None:
    """Remove stored objects (missing ones are fine). Runs after the rows' transaction commits:
    a failure leaves an unaccounted object behind, never a row without its object."""
    if not names:
        return
    storage = object_storage()
    try:
        if is_s3(storage):
            client, bucket = storage.connection.meta.client, storage.bucket_name
            keys = [_s3_key(storage, name) for name in names]
            for start in range(0, len(keys), S3_DELETE_BATCH):
                chunk = keys[start:start + S3_DELETE_BATCH]
                client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
        else:
            for name in names:
                storage.delete(name)
    except Exception:  # the rows are gone already: log the orphans for the operator
        logger.exception("could not delete %d stored object(s), e.g. %s", len(names), names[0])


def read_token(token: str, *, upload: bool) -> dict:
    """The payload of a local URL token; raises signing.BadSignature (or its subclass
    SignatureExpired) when tampered with or expired."""
    salt, cap = (UPLOAD_SALT, UPLOAD_VALID_SECS) if upload else (DOWNLOAD_SALT, DOWNLOAD_MAX_SECS)
    payload = signing.loads(token, salt=salt, max_age=cap)
    if not isinstance(payload, dict) or "n" not in payload or payload.get("e", 0) < time.time():
        raise signing.SignatureExpired("URL expired")
    return payload


def _sign(payload: dict, salt: str, lifetime: int) -> str:
    return signing.dumps({**payload, "e": int(time.time()) + lifetime}, salt=salt, compress=True)


def _local_url(route: str, token: str) -> str:
    """Root-relative unless DROVER_STORAGE_PUBLIC_URL is set; views make it absolute with the
    request's host (request.build_absolute_uri leaves absolute URLs alone)."""
    path = reverse(route, args=[token])
    base = settings.DROVER_STORAGE_PUBLIC_URL
    return base.rstrip("/") + path if base else path


def _s3_key(storage, name: str) -> str:
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(name))


def _presign(storage, method: str, name: str, lifetime: int, **params) -> str:
    client = storage.connection.meta.client
    params = {"Bucket": storage.bucket_name, "Key": _s3_key(storage, name), **params}
    return client.generate_presigned_url(method, Params=params, ExpiresIn=lifetime)
