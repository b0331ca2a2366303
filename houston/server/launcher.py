"""Start and stop the dashboard server inside a Houston process (`houston run`/`serve`).

uvicorn runs in its own thread with its own event loop. Houston owns the signals, so the
`Server` subclass captures none (uvicorn's own would catch SIGINT and SIGTERM and
raise them again once it stops); `stop()` closes every event stream first (clients
reconnect and resume), then asks uvicorn to exit with a bounded
`timeout_graceful_shutdown`. sse-starlette's process-wide `AppStatus.should_exit`
is set when the last server of the process stops and cleared when one starts, because
nothing else resets it and a stale flag would cut every later stream at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
import sys
import threading
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field

import uvicorn
from sse_starlette.sse import AppStatus
from starlette.types import ASGIApp

from houston.core.errors import StoreError
from houston.home.layout import Home
from houston.home.server_record import ServerRecord, remove_server_record, write_server_record
from houston.server.app import create_app
from houston.server.protocol import BODY_TIMEOUT, HEAD_TIMEOUT, bounded_protocol
from houston.server.security import LOOPBACK_HOSTS, load_token
from houston.server.sse import Feed

DEFAULT_PORT = 8765
WILDCARDS = ("0.0.0.0", "", "::")  # noqa: S104 - naming the wildcard, not binding it
START_TIMEOUT = 10.0
_live = 0
_live_lock = threading.Lock()


class _Server(uvicorn.Server):
    """Never installs signal handlers: the Houston process handles its own signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class ServerHandle:
    url: str  # carries the token once: opening it turns the token into a cookie
    host: str
    port: int
    token: str
    home: Home
    _server: _Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _feed: Feed = field(repr=False)
    _loop: asyncio.AbstractEventLoop = field(repr=False)

    @property
    def base_url(self) -> str:
        return self.url.split("?", 1)[0].rstrip("/")

    def stop(self, timeout: float = 3.0) -> None:
        """Close the streams, stop uvicorn and wait for its thread (about 0.2 s)."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self._loop.call_soon_threadsafe(self._feed.close)
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():  # streams still open past the grace period
            self._server.force_exit = True
            self._thread.join(timeout)
        _release()
        remove_server_record(self.home, os.getpid(), self.port)


def start(
    home: Home,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    allowed_hosts: Iterable[str] = (),
    queue_size: int = 1000,
    send_timeout: float = 5.0,
    reconcile: float = 2.0,
    graceful_timeout: int = 1,
    log_level: str = "warning",
    head_timeout: float = HEAD_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
) -> ServerHandle:
    """Serve the dashboard of `home`; port 0 takes any free port, and a taken default
    port falls back to a free one. The chosen port is written to `<home>/run/server.json`."""
    _warn_if_exposed(host)
    home.run.mkdir(parents=True, exist_ok=True)
    token = load_token(home.run)
    app, feed = create_app(
        home,
        token,
        hosts={*LOOPBACK_HOSTS, *allowed_hosts, *_names_for(host)},
        queue_size=queue_size,
        send_timeout=send_timeout,
        reconcile=reconcile,
    )
    sock = _bind(host, port)
    chosen = sock.getsockname()[1]
    server = _uvicorn_server(app, log_level, graceful_timeout, head_timeout, body_timeout)
    loop, thread = _serve_in_thread(server, sock, chosen)
    url = f"http://{_url_host(host)}:{chosen}/?token={token}"
    base_url = url.split("?", 1)[0]
    write_server_record(home, ServerRecord(os.getpid(), host, chosen, base_url, time.time()))
    return ServerHandle(url, host, chosen, token, home, server, thread, feed, loop)


def _uvicorn_server(
    app: ASGIApp, log_level: str, graceful_timeout: int, head_timeout: float, body_timeout: float
) -> _Server:
    """uvicorn with bounded request heads and bodies, no websockets, no access log."""
    return _Server(
        uvicorn.Config(
            app,
            log_level=log_level,
            timeout_graceful_shutdown=graceful_timeout,
            lifespan="on",
            loop="asyncio",
            http=bounded_protocol(head_timeout, body_timeout),
            ws="none",
            access_log=False,
        )
    )


def _serve_in_thread(
    server: _Server, sock: socket.socket, port: int
) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """uvicorn on its own event loop in a daemon thread; returns once it serves."""
    loop = asyncio.new_event_loop()
    _acquire()
    thread = threading.Thread(
        target=_serve, args=(loop, server, sock), name=f"houston-ui-{port}", daemon=True
    )
    thread.start()
    _wait_started(server, thread)
    return loop, thread


def is_loopback(host: str) -> bool:
    """Pure: does binding `host` keep the server on this machine?"""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def exposure_warning(host: str) -> str:
    """Pure: the warning for a bind address other machines can reach ("" for loopback)."""
    if is_loopback(host):
        return ""
    where = "EVERY network interface" if host in WILDCARDS else f"{host}"
    bar = "!" * 78
    return (
        f"{bar}\nWARNING: the dashboard will listen on {where}, in plain HTTP.\n"
        "Anyone who can reach this port sees the requests pass unencrypted, the access\n"
        "token included, and with the token can approve, cancel and submit missions.\n"
        "Use --host 127.0.0.1 (the default) and an SSH tunnel or a TLS proxy instead.\n"
        f"{bar}\n"
    )


def _warn_if_exposed(host: str) -> None:
    warning = exposure_warning(host)
    if warning:  # before binding: said even when the bind then fails
        sys.stderr.write(warning)
        sys.stderr.flush()


def _serve(loop: asyncio.AbstractEventLoop, server: _Server, sock: socket.socket) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(server.serve(sockets=[sock]))
    finally:
        with contextlib.suppress(Exception):
            _cancel_leftovers(loop)
        loop.close()
        sock.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """sse-starlette leaves a shutdown watcher task per loop: end it before closing."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in (port, 0) if port else (0,):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and candidate:
                continue
            raise StoreError(
                f"cannot listen on {host}:{candidate}: {exc.strerror}",
                fix="pick another --host or --port (0 takes any free port)",
            ) from exc
        sock.listen(128)
        sock.setblocking(False)
        return sock
    raise AssertionError("unreachable: port 0 always binds")


def _wait_started(server: _Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(2)
            _release()
            raise StoreError("the dashboard server did not start", fix="see the log above")
        time.sleep(0.005)


def _names_for(host: str) -> set[str]:
    """The Host names a browser may use for this bind address: the address itself, and
    for a wildcard bind every address of this machine plus its host name."""
    names = {host.lower(), f"[{host.lower()}]"}
    if host in WILDCARDS:
        import psutil

        names.add(socket.gethostname().lower())
        for addresses in psutil.net_if_addrs().values():
            for address in addresses:
                if address.family == socket.AF_INET:
                    names.add(address.address)
                elif address.family == socket.AF_INET6:
                    names.add(f"[{address.address.split('%')[0]}]")
    return names


def _url_host(host: str) -> str:
    if host in WILDCARDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _acquire() -> None:
    global _live
    with _live_lock:
        if _live == 0:
            AppStatus.should_exit = False
        _live += 1


def _release() -> None:
    global _live
    with _live_lock:
        _live = max(0, _live - 1)
        if _live == 0:
            AppStatus.should_exit = True
