"""The workers' HTTP client (apps.workers.http.JsonClient) against a server that dies mid-answer
or is briefly unavailable: a raw socket server scripts each connection's answer, so every cut
is exact. A cut answer is retried like a refused connection; a whole one is returned as is."""

import socket
import threading
import time

import pytest

from apps.workers.http import ApiError, JsonClient

pytestmark = pytest.mark.slow


class Scripted:
    """Accepts connections on a free port; connection i reads one request, sends answers[i] and
    closes (a dying server). Records the request lines it saw."""

    def __init__(self, answers: list[bytes]):
        self.answers, self.requests = list(answers), []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        for answer in self.answers:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head.split(b"\r\n")[0].decode())
                conn.sendall(answer)
        self.sock.close()

    def client(self) -> JsonClient:
        return JsonClient(f"http://127.0.0.1:{self.port}", {}, timeout=5, retry_for=20)


def body(text: bytes, status: bytes = b"200 OK", length: bool = True) -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
    if length:
        head += b"Content-Length: " + str(len(text)).encode() + b"\r\n"
    return head + b"\r\n" + text


CUTS = {
    "status line only": b"HTTP/1.1 200 OK\r\n",
    "headers cut before the length": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
    "body cut, no length": body(b'{"jobs": [1, 2', length=False),
    "body cut, with length": body(b'{"jobs": [1, 2, 3]}')[:-5],
    "nothing at all": b"",
}


@pytest.mark.parametrize("cut", CUTS.values(), ids=CUTS.keys())
def test_an_answer_cut_short_is_retried(cut):
    server = Scripted([cut, body(b'{"jobs": [1, 2, 3]}')])
    started = time.monotonic()
    assert server.client().post("/claim", {"n": 3}) == {"jobs": [1, 2, 3]}
    assert server.requests == ["POST /claim HTTP/1.1"] * 2
    assert time.monotonic() - started < 5  # one short back-off, not the whole retry window


def test_unavailable_then_up_is_retried_with_backoff():
    server = Scripted([body(b'{"error": {"message": "Database unavailable, retry later"}}', b"503 Service Unavailable"),
                       body(b'{"error": {"message": "Database unavailable, retry later"}}', b"503 Service Unavailable"),
                       body(b'{"ok": true}')])
    assert server.client().get("/jobs") == {"ok": True}
    assert len(server.requests) == 3


def test_whole_answers_are_not_retried():
    server = Scripted([body(b"null"), body(b'{"error": {"message": "no"}}', b"409 Conflict"),
                       b"HTTP/1.1 204 No Content\r\n\r\n",
                       body(b'{"a": 1}', length=False)])  # close-delimited but whole: parses
    client = server.client()
    assert client.post("/workers/heartbeat") is None
    with pytest.raises(ApiError) as refused:
        client.post("/complete")
    assert refused.value.status == 409
    assert client.exchange("GET", "/workers/tasks")[0] == 204
    assert client.get("/x") == {"a": 1}
    assert len(server.requests) == 4
