"""The server's guard: Host allow-list, per-home token, exact Origin, launch cookie."""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator

import httpx
import pytest

from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.launcher import ServerHandle, start
from houston.server.security import duplicate_header, host_name, load_token

GATED = b"name: gated\ngate: approve\ntasks:\n  - id: a\n    agent: core/shell\n"


@pytest.fixture
def server(home: Home) -> Iterator[ServerHandle]:
    handle = start(home, port=0)
    yield handle
    handle.stop()


def origin(server: ServerHandle) -> str:
    return f"http://127.0.0.1:{server.port}"


@contextlib.contextmanager
def browser(server: ServerHandle) -> Iterator[httpx.Client]:
    """A client that opened the launch URL, as a browser would."""
    with httpx.Client(base_url=server.base_url, timeout=10, follow_redirects=True) as client:
        answer = client.get(server.url)
        assert answer.status_code == 200  # followed the redirect to the dashboard
        yield client


def gated_mission(server: ServerHandle) -> str:
    from houston.actions import submit

    return submit(MissionStore(server.home), GATED, "m.yaml").id


def test_host_name_strips_the_port() -> None:
    assert host_name("127.0.0.1:8765") == "127.0.0.1"
    assert host_name("[::1]:80") == "[::1]"
    assert host_name("localhost") == "localhost"


def test_token_file_is_private_and_stable(home: Home) -> None:
    token = load_token(home.run)
    assert len(token) >= 32
    assert stat.S_IMODE((home.run / "token").stat().st_mode) == 0o600
    assert load_token(home.run) == token


def test_launch_url_sets_an_httponly_strict_cookie_and_drops_the_token(
    server: ServerHandle,
) -> None:
    answer = httpx.get(server.url, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert f"houston_token_{server.port}={server.token}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with browser(server) as client:
        assert client.get("/api/missions").status_code == 200


def test_reads_without_the_token_are_refused(server: ServerHandle) -> None:
    assert httpx.get(f"{server.base_url}/api/missions").status_code == 403
    page = httpx.get(f"{server.base_url}/?token=wrong")
    assert page.status_code == 401 and "run/token" in page.text
    assert httpx.get(f"{server.base_url}/metrics").status_code == 403


def test_a_foreign_host_is_refused_even_with_the_token(server: ServerHandle) -> None:
    with browser(server) as client:
        answer = client.get("/api/missions", headers={"Host": f"evil.example:{server.port}"})
    assert answer.status_code == 403
    assert "DNS rebinding" in answer.json()["error"]


def test_a_post_without_the_token_is_refused(server: ServerHandle) -> None:
    mission = gated_mission(server)
    answer = httpx.post(
        f"{server.base_url}/api/missions/{mission}/approve", headers={"Origin": origin(server)}
    )
    assert answer.status_code == 403
    assert MissionStore(server.home).locate(mission).state.value == "PLANNING"


def test_a_cross_origin_post_is_refused_even_with_the_cookie(server: ServerHandle) -> None:
    mission = gated_mission(server)
    with browser(server) as client:
        for bad in (
            "http://evil.example",
            f"http://localhost:{server.port}",
            f"http://127.0.0.1:{server.port + 1}",
            "null",
        ):
            answer = client.post(f"/api/missions/{mission}/approve", headers={"Origin": bad})
            assert answer.status_code == 403, bad
            assert "access-control-allow-origin" not in answer.headers
        # The cookie alone, with no Origin at all, is not enough either.
        assert client.post(f"/api/missions/{mission}/approve").status_code == 403
    assert MissionStore(server.home).locate(mission).state.value == "PLANNING"


def test_same_origin_post_with_the_cookie_is_allowed(server: ServerHandle) -> None:
    mission = gated_mission(server)
    with browser(server) as client:
        answer = client.post(f"/api/missions/{mission}/approve", headers={"Origin": origin(server)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "COMMITTED"
    assert answer.headers["x-frame-options"] == "DENY"


def raw_request(server: ServerHandle, head: str, body: bytes = b"") -> bytes:
    """One HTTP/1.1 request written byte for byte (clients merge repeated headers)."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = head.replace("\n\n", "\nConnection: close\n\n", 1)
        sock.sendall(head.replace("\n", "\r\n").encode() + body)
        answer = b""
        for _ in range(1000):  # bounded; the server closes after its answer
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_duplicate_host_or_origin_headers_are_refused(server: ServerHandle) -> None:
    assert duplicate_header([(b"Host", b"a"), (b"origin", b"b"), (b"ORIGIN", b"c")]) == "Origin"
    assert duplicate_header([(b"host", b"a"), (b"HOST", b"b")]) == "Host"
    assert duplicate_header([(b"host", b"a"), (b"cookie", b"x"), (b"cookie", b"y")]) == ""
    mission = gated_mission(server)
    host = f"127.0.0.1:{server.port}"
    cookie = f"Cookie: houston_token_{server.port}={server.token}"
    for first, second in (
        (origin(server), "http://evil.example"),
        ("http://evil.example", origin(server)),
    ):
        answer = raw_request(
            server,
            f"POST /api/missions/{mission}/approve HTTP/1.1\n"
            f"Host: {host}\nOrigin: {first}\nOrigin: {second}\n{cookie}\n"
            "Content-Length: 0\n\n",
        )
        assert answer.startswith(b"HTTP/1.1 400 "), answer
        assert b"the Origin header appears more than once" in answer
    for first, second in ((host, "evil.example"), ("evil.example", host)):
        answer = raw_request(
            server,
            f"GET /api/missions HTTP/1.1\nHost: {first}\n"
            f"Host: {second}\nAuthorization: Bearer {server.token}\n\n",
        )
        assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert MissionStore(server.home).locate(mission).state.value == "PLANNING"
    good = raw_request(
        server,
        f"GET /api/missions HTTP/1.1\nHost: {host}\nAuthorization: Bearer {server.token}\n\n",
    )
    assert good.startswith(b"HTTP/1.1 200 "), good


def test_a_bearer_token_serves_scripts_without_an_origin(server: ServerHandle) -> None:
    answer = httpx.get(
        f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {server.token}"}
    )
    assert answer.status_code == 200
    assert "houston_missions" in answer.text


def test_static_files_are_public_but_carry_no_data(server: ServerHandle) -> None:
    assert httpx.get(f"{server.base_url}/static/app.js").status_code == 200


def test_a_wildcard_bind_accepts_this_machines_names_only(home: Home) -> None:
    from houston.server.launcher import _names_for

    names = _names_for("0.0.0.0")
    assert "127.0.0.1" in names
    assert "evil.example" not in names
    assert _names_for("127.0.0.1") == {"127.0.0.1", "[127.0.0.1]"}


def test_a_bind_other_machines_can_reach_is_warned_about_loudly(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    from houston.core.errors import StoreError
    from houston.server.launcher import exposure_warning, is_loopback

    for loopback in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(loopback) and exposure_warning(loopback) == "", loopback
    assert "EVERY network interface" in exposure_warning("0.0.0.0")
    assert "EVERY network interface" in exposure_warning("::")
    for remote in ("192.168.1.5", "example.com", "10.0.0.1"):
        assert "plain HTTP" in exposure_warning(remote), remote
    # 192.0.2.1 (TEST-NET-1) is on no interface here: the warning comes before the bind,
    # and the bind then fails without opening anything.
    with pytest.raises(StoreError, match=r"cannot listen on 192\.0\.2\.1"):
        start(home, host="192.0.2.1", port=0)
    err = capsys.readouterr().err
    assert "WARNING: the dashboard will listen on 192.0.2.1, in plain HTTP" in err
    start(home, port=0).stop()
    assert "WARNING" not in capsys.readouterr().err
