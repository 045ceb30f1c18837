"""The signed URLs of the local storage backend (not a dialect: /storage/...).

PUT /storage/upload/<token>: the raw body (curl --upload-file, requests.put(url, data=...)),
exactly the declared length, streamed to a temporary file next to the objects, then moved into
place. GET /storage/download/<token>: the object, streamed. The token is the only credential;
a tampered or expired one is 403."""

import errno
import os
import tempfile

from django.core import signing
from django.core.files import File
from django.http import FileResponse, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.core import dialects
from apps.core.errors import body_for

from .. import backends
from ..models import Artifact, Attachment

CHUNK = 1024 * 1024
REFS = {"attachment": Attachment, "artifact": Artifact}


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse(body_for(dialects.DROVER, message, status), status=status)


def _payload(token: str, *, upload: bool) -> dict | JsonResponse:
    if not backends.is_local():
        return _error(404, "Not found: the storage is not local; use the URLs the API gives")
    try:
        return backends.read_token(token, upload=upload)
    except signing.SignatureExpired:
        return _error(403, "URL expired; ask the API for a new one")
    except signing.BadSignature:
        return _error(403, "Invalid URL signature")


class _TempObject(File):
    """A finished upload in a temporary file; FileSystemStorage moves it into place (a rename
    on the same file system) when it has temporary_file_path."""

    def __init__(self, path: str):
        super().__init__(None, name=os.path.basename(path))
        self.path = path

    def temporary_file_path(self) -> str:
        return self.path


@csrf_exempt
@require_http_methods(["PUT"])
def upload(request, token: str):
    payload = _payload(token, upload=True)
    if isinstance(payload, JsonResponse):
        return payload
    declared = payload["l"]
    raw_length = request.META.get("CONTENT_LENGTH") or ""
    if not raw_length.isdigit():
        return _error(411, "Content-Length: required (send the body with its length, not chunked)")
    length = int(raw_length)
    if length > declared:
        return _error(413, f"body: {length} bytes, more than the {declared} declared for this URL")
    if length < declared:
        return _error(400, f"body: {length} bytes, fewer than the {declared} declared for this URL")
    kind, row_id = payload.get("r", ("", 0))
    model = REFS.get(kind)
    if model is None or not model.objects.filter(pk=row_id).exists():
        return _error(404, "Not found: the attachment or artifact was deleted; ask the API for a new URL")
    try:
        error = _receive(request, payload["n"], length, declared)
    except OSError as exc:  # the store itself failed: say so, nothing is recorded differently
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        return _error(507 if full else 503, f"storage: {'no space left' if full else 'unavailable'} ({exc.strerror}); "
                                            "retry later with the same URL")
    if error is not None:
        return error
    return HttpResponse(status=200)  # as S3 answers a PUT: 200, no body


def _receive(request, name: str, length: int, declared: int):
    """Stream the body to a temporary file, then into the store under `name`."""
    storage = backends.object_storage()
    incoming = os.path.join(storage.location, ".incoming")
    os.makedirs(incoming, exist_ok=True)
    fd, temp_path = tempfile.mkstemp(dir=incoming)
    try:
        received = 0
        with os.fdopen(fd, "wb") as out:
            while received < length:
                chunk = request.read(min(CHUNK, length - received))
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
        if received != declared:
            return _error(400, f"body: ended after {received} of {declared} bytes")
        storage.save(name, _TempObject(temp_path))
    finally:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
    return None


@require_http_methods(["GET", "HEAD"])
def download(request, token: str):
    payload = _payload(token, upload=False)
    if isinstance(payload, JsonResponse):
        return payload
    storage = backends.object_storage()
    name = payload["n"]
    try:
        handle = storage.open(name, "rb")
    except FileNotFoundError:
        return _error(404, "Not found: nothing was uploaded to this object yet")
    return FileResponse(handle, as_attachment=True, filename=os.path.basename(name),
                        content_type="application/octet-stream")
