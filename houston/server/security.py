"""Who may talk to the local server (docs/telemetry.md, "Security").

A pure ASGI middleware (never BaseHTTPMiddleware, which breaks streaming shutdown):
- `Host` must be in the allow-list (loopback names by default): stops DNS rebinding;
- every request except the public ones needs the per-home token, from the HttpOnly
  SameSite=Strict cookie that the launch URL (`/?token=...`) sets once, or from an
  `Authorization: Bearer` header (scripts, Prometheus);
- mutating requests carrying a browser's `Origin` need it to equal this server's origin
  exactly; `Origin: null` is refused; a cookie alone never suffices without that Origin
  (cookies are not isolated by port, so SameSite is not enough);
- a request carrying `Host` or `Origin` twice is refused (400): which copy a check
  reads must never be a choice an attacker makes;
- no CORS headers are ever sent; every response forbids framing and sniffing.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from houston.core.errors import UsageError
from houston.secretfiles import setting

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
SINGLE_HEADERS = (b"host", b"origin")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PREFIXES = ("/static/",)
# Answers "up" and nothing else, so kubelet probes need no token and no allowed Host
# (they send the pod's IP as Host).
HEALTH_PATH = "/healthz"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    ),
]


NEEDS_LAUNCH_URL = "open the URL printed by `houston serve` (it carries the access token)"
LAUNCH_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Houston</title>"
    "<p>This dashboard needs its access token. Open the URL that <code>houston run</code> or "
    "<code>houston serve</code> printed (it ends in <code>?token=...</code>); the token is "
    "also in <code>&lt;home&gt;/run/token</code>.</p>"
)


def load_token(run_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The per-home token in `<home>/run/token` (0600), created on first use; or the one
    given by `HOUSTON_TOKEN` / `HOUSTON_TOKEN_FILE` (a mounted Secret in a cluster)."""
    given = setting("HOUSTON_TOKEN", environ)
    if given is not None:
        if not given:
            raise UsageError(
                "the access token given by HOUSTON_TOKEN_FILE is empty",
                fix="put a long random string in it (e.g. `openssl rand -hex 32`)",
            )
        return given
    path = run_dir / "token"
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text().strip()
        if token:
            return token
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    token = secrets.token_urlsafe(32)
    try:
        os.write(fd, token.encode())
    finally:
        os.close(fd)
    return token


def host_name(host_header: str) -> str:
    """Pure: the name part of a Host header (`[::1]:80` -> `[::1]`)."""
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


def duplicate_header(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """Pure: the name of a header that must appear once but appears twice, else ""."""
    seen: set[bytes] = set()
    for name, _value in headers:
        lowered = name.lower()
        if lowered in SINGLE_HEADERS:
            if lowered in seen:
                return lowered.decode().capitalize()
            seen.add(lowered)
    return ""


def cookie_name(port: int) -> str:
    # Cookies are shared across ports: one name per port keeps two homes apart.
    return f"houston_token_{port}"


class Guard:
    def __init__(self, app: ASGIApp, *, token: str, hosts: Iterable[str] = LOOPBACK_HOSTS):
        self.app = app
        self.token = token
        self.hosts = frozenset(h.lower() for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        duplicate = duplicate_header(scope["headers"])
        if duplicate:
            await _respond(send, 400, {"error": f"the {duplicate} header appears more than once"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope, headers)
        if refusal == "launch":
            await self._launch(scope, send)
        elif refusal == NEEDS_LAUNCH_URL:
            await _respond_html(send, 401, LAUNCH_PAGE)
        elif refusal:
            await _respond(send, 403, {"error": refusal})
        else:
            await self.app(scope, receive, _with_headers(send))

    def refusal(self, scope: Scope, headers: dict[str, str]) -> str:
        """Why this request is refused ("" if allowed, "launch" for the launch URL)."""
        method, path = scope.get("method", "GET"), scope["path"]
        if path == HEALTH_PATH and method in SAFE_METHODS:
            return ""
        host = headers.get("host", "")
        if host_name(host).lower() not in self.hosts:
            return f"host {host!r} is not allowed (DNS rebinding protection)"
        origin = headers.get("origin")
        if method not in SAFE_METHODS:
            if origin == "null":
                return "Origin null is refused"
            if origin is not None and origin != f"http://{host}":
                return f"cross-origin request from {origin!r} refused"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if path == "/" and method == "GET" and self._valid(query.get("token", [""])[0]):
            return "launch"
        if path.startswith(PUBLIC_PREFIXES) and method in SAFE_METHODS:
            return ""
        by_header = self._valid(_bearer(headers.get("authorization", "")))
        by_cookie = self._valid(_cookie(headers.get("cookie", ""), _port(scope)))
        if by_header:
            return ""
        if by_cookie and (method in SAFE_METHODS or origin is not None):
            return ""
        if path == "/" and method == "GET":
            return NEEDS_LAUNCH_URL
        return "missing or wrong token"

    def _valid(self, candidate: str) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token.encode())

    async def _launch(self, scope: Scope, send: Send) -> None:
        """Turn the token of the launch URL into a cookie and drop it from the address."""
        cookie = f"{cookie_name(_port(scope))}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", b"/"),
                    (b"set-cookie", cookie.encode()),
                    (b"cache-control", b"no-store"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _port(scope: Scope) -> int:
    server = scope.get("server") or ("", 0)
    return int(server[1] or 0)


def _bearer(value: str) -> str:
    scheme, _, credential = value.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


def _cookie(header: str, port: int) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is simply no credential
        return ""
    morsel = jar.get(cookie_name(port))
    return morsel.value if morsel is not None else ""


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
        await send(message)

    return wrapped


async def _respond(send: Send, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _respond_html(send: Send, status: int, page: str) -> None:
    payload = page.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
