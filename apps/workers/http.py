"""A small JSON-over-HTTP client for workers, and raw transfers to pre-signed URLs (standard
library only: a worker host needs no more than Drover's base requirements). Retries while the
server or its database is away."""

import http.client
import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from urllib.parse import urljoin, urlsplit

logger = logging.getLogger("drover.worker")
RETRY_STATUSES = {502, 503, 504}


class ApiError(Exception):
    def __init__(self, status: int, body: str, method: str, path: str):
        super().__init__(f"{method} {path} -> {status}: {body[:500]}")
        self.status = status
        self.body = body


class JsonClient:
    def __init__(self, base_url: str, headers: dict[str, str], *, timeout: float = 60.0, retry_for: float = 120.0):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http(s) URL, e.g. http://127.0.0.1:8000")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.base_url = base_url.rstrip("/")
        self.headers = {"Accept": "application/json", "User-Agent": "drover-worker", **headers}
        self.timeout, self.retry_for = timeout, retry_for
        self._conn = None

    def _connection(self):
        if self._conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def request(self, method: str, path: str, body=None, *, ok=(200,)):
        status, text, _ = self.exchange(method, path, body)
        if status not in ok:
            raise ApiError(status, text, method, path)
        return json.loads(text) if text else None

    def exchange(self, method: str, path: str, body=None) -> tuple[int, str, dict]:
        """One call, any status: (status, body text, headers). Connection errors and 502-504 are
        retried for `retry_for` seconds."""
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        deadline = time.monotonic() + self.retry_for
        delay = 0.2
        while True:
            try:
                conn = self._connection()
                conn.request(method, self.prefix + path, body=data, headers=headers)
                response = conn.getresponse()
                text = response.read().decode(errors="replace")
                if not _complete(response, text):
                    raise ConnectionError(f"server answered {response.status} but its answer was cut short")
                if response.status in RETRY_STATUSES and time.monotonic() < deadline:
                    raise ConnectionError(f"server answered {response.status}")
                return response.status, text, {k.lower(): v for k, v in response.getheaders()}
            except (ConnectionError, OSError, http.client.HTTPException) as exc:
                self.close()
                if time.monotonic() >= deadline:
                    raise
                logger.warning("%s %s failed (%s); retrying in %.1fs", method, path, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def absolute(self, url: str) -> str:
        """A URL the server gave (possibly relative to it) made absolute."""
        return urljoin(self.base_url + "/", url)

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None):
        return self.request("POST", path, body if body is not None else {})

    def put(self, path, body=None):
        return self.request("PUT", path, body)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _complete(response, text: str) -> bool:
    """Whether an answer arrived whole. http.client takes a header block cut off by a dying server
    for a complete one and then reads a body delimited by the connection's close: a 200 with an
    empty or half body. A body with a length or chunked framing is checked by http.client itself
    (IncompleteRead); without either, only JSON that parses is proof of a whole answer."""
    if response.status in (204, 304) or response.getheader("Content-Length") is not None:
        return True
    if "chunked" in (response.getheader("Transfer-Encoding") or "").lower():
        return True
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _web_url(url: str) -> str:
    """Storage URLs come from the coordinator; anything but http(s) (file://, ftp://) is refused
    rather than opened by urllib."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise urllib.error.URLError(f"not an http(s) URL: {url[:80]!r}")  # an OSError, as callers expect
    return url


def download(url: str, dest: str, *, timeout: float = 120.0) -> int:
    """GET a (pre-signed) URL, without our credentials, into `dest`; returns the bytes written.
    Raises urllib.error.HTTPError on a non-2xx answer, URLError on a URL that is not http(s)."""
    with urllib.request.urlopen(_web_url(url), timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)
        return out.tell()


def upload(url: str, path: str, *, timeout: float = 600.0) -> None:
    """PUT a file's raw bytes to a (pre-signed) URL, Content-Length set, no credentials."""
    size = os.path.getsize(path)
    with open(path, "rb") as body:
        request = urllib.request.Request(_web_url(url), data=body, method="PUT",
                                         headers={"Content-Length": str(size),
                                                  "Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()


def auth_headers(*, api_key: str | None = None, token: str | None = None, username: str | None = None,
                 password: str | None = None) -> dict[str, str]:
    import base64

    if api_key:
        return {"X-API-Key": api_key}
    if token:
        return {"Authorization": f"Bearer {token}"}
    if username and password:
        return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}
    return {}
