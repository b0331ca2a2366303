"""A client that sends its request too slowly gets 408 and loses the connection."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from houston.home.layout import Home
from houston.server.launcher import ServerHandle, start
from houston.server.protocol import timeout_answer


@pytest.fixture
def server(home: Home) -> Iterator[ServerHandle]:
    handle = start(home, port=0, head_timeout=1.0, body_timeout=1.0)
    yield handle
    handle.stop()


def dribble(server: ServerHandle, first: bytes, then: bytes, limit: float = 20) -> bytes:
    """Send `first`, then `then` one byte at a time; what came back once the server closed."""
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=limit) as sock:
        sock.sendall(first)
        sock.settimeout(0.2)
        deadline = time.monotonic() + limit
        for byte in then:
            if time.monotonic() > deadline:
                break
            try:
                sock.sendall(bytes([byte]))
                chunk = sock.recv(65536)
            except TimeoutError:
                continue  # nothing yet: keep dribbling
            except (BrokenPipeError, ConnectionResetError):
                break
            answer += chunk
            if not chunk:
                break
        sock.settimeout(limit)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


def test_the_408_answer_is_a_whole_response() -> None:
    answer = timeout_answer("headers")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout")
    assert f"content-length: {len(body)}".encode() in head


def test_headers_sent_a_byte_at_a_time_are_cut_off(server: ServerHandle) -> None:
    head = f"GET /api/missions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode()
    answer = dribble(server, head, b"X-Slow: " + b"a" * 2000)  # far more than 1 s of dribble
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"the request headers took too long" in answer


def test_a_body_that_never_arrives_is_cut_off(server: ServerHandle) -> None:
    head = (
        f"POST /api/missions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\nContent-Length: 5000\r\n\r\n"
    ).encode()
    answer = dribble(server, head, b"n" * 2000)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"the request body took too long" in answer


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(
    server: ServerHandle,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        assert sock.recv(65536) == b""  # closed by the server, long before this timeout


def test_prompt_requests_on_one_connection_are_served(server: ServerHandle) -> None:
    request = (
        f"GET /api/missions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.endswith((b"]", b"}")):
                chunk = sock.recv(65536)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
