"""Stalled `since=-1` clients must not grow the server: replay is bounded in bytes.

The server runs in its own process so that its resident memory can be measured; the log
holds three full 8 MiB segments, and ten clients ask for all of it and then stop reading.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers.engine import REPO

from houston.home.events import SEGMENT_BYTES, EventLog
from houston.home.layout import Home

SERVER = """
import sys
from pathlib import Path
from houston.home.layout import Home
from houston.server.launcher import start
handle = start(Home(Path(sys.argv[1])), port=0, send_timeout=30)
print(handle.port, handle.token, flush=True)
sys.stdin.read()
handle.stop()
"""
CLIENTS = 10
ALLOWED_GROWTH = 48 * 1024 * 1024  # before the bound, ten clients took about 250 MiB


def fill_log(home: Home, size: int) -> None:
    log = EventLog(home.events)
    line = "x" * 4000
    batch = [("attempt.log", "m", "t", 1, {"line": line}, time.time())] * 200
    while log.head() < size:
        log.append_many(batch)


def stalled_client(port: int, token: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(20)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /events?since=-1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    assert sock.recv(1)  # the stream has begun; from now on this client reads nothing
    return sock


@pytest.mark.process
def test_ten_stalled_replays_keep_the_server_small(home: Home, tmp_path: Path) -> None:
    fill_log(home, 3 * SEGMENT_BYTES)
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(home.root)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    clients: list[socket.socket] = []
    try:
        port, token = server.stdout.readline().split()
        process = psutil.Process(server.pid)
        stalled_client(int(port), token).close()  # warm up: imports, first replay
        baseline = process.memory_info().rss
        clients = [stalled_client(int(port), token) for _ in range(CLIENTS)]
        peak = baseline
        deadline = time.monotonic() + 4  # a window to watch, not a speed requirement
        while time.monotonic() < deadline:
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.05)
        growth = peak - baseline
        assert growth < ALLOWED_GROWTH, f"the server grew by {growth / 2**20:.0f} MiB"
    finally:
        for sock in clients:
            sock.close()
        server.stdin.close()
        server.wait(timeout=30)
        server.stdout.close()
