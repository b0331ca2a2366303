"""Event appended -> SSE client received: Houston's server beside a bare sse-starlette one.

    python bench/sse.py [--seconds 3] [--rate 50] [--clients 1,100]

Each server runs in its own process (so its CPU and RSS are its own). The bench process
holds the clients (asyncio, raw sockets) and a thread that produces events:
- houston: events arrive as UDP datagrams at a thread of the server process that
  appends them to the log, as an engine sharing the process with its server
  (`houston run`, `houston serve`) does: the in-process listener wakes the feed, which
  tails the log and fans out;
- houston-x: the bench process appends to the log itself, as an engine in another
  process would: inotify (watchdog) wakes the server;
- bare: a minimal sse-starlette endpoint whose events arrive as UDP datagrams and are
  fanned out to per-client asyncio queues (no log, no security, no resume).
Latency is CLOCK_MONOTONIC at receipt minus the stamp inside the event (one machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

BARE_SERVER = r"""
import asyncio, json, socket, sys
import uvicorn
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.routing import Route

queues = set()

class Inbox(asyncio.DatagramProtocol):
    def datagram_received(self, data, addr):
        for q in list(queues):
            q.put_nowait(data.decode())

async def events(request):
    q = asyncio.Queue()
    queues.add(q)
    async def gen():
        try:
            while True:
                yield {"data": await q.get()}
        finally:
            queues.discard(q)
    return EventSourceResponse(gen(), ping=10, send_timeout=5)

async def main():
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Inbox, local_addr=("127.0.0.1", int(sys.argv[1])))
    sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(128)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(Starlette(routes=[Route("/events", events)]), log_level="warning",
                            loop="asyncio", http="h11", timeout_graceful_shutdown=1)
    await uvicorn.Server(config).serve(sockets=[sock])

asyncio.run(main())
"""

HOUSTON_SERVER = r"""
import json, socket, sys, threading
from pathlib import Path
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.server.launcher import start
home = Home(Path(sys.argv[1])).ensure()
handle = start(home, port=0)

def engine_like(udp_port):  # appends from a thread of the server's process, as `houston serve`
    inbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inbox.bind(("127.0.0.1", udp_port))
    log = EventLog(home.events)
    while True:
        data = json.loads(inbox.recv(4096))
        log.append("usage", mission="bench", data=data)

threading.Thread(target=engine_like, args=(int(sys.argv[2]),), daemon=True).start()
print(handle.port, handle.token, flush=True)
sys.stdin.read()  # until the bench closes our stdin
handle.stop()
"""


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


async def client(
    port: int,
    headers: str,
    latencies: list[float],
    ready: asyncio.Event,
    connected: list[int],
    total: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    connected.append(1)
    if len(connected) == total:
        ready.set()
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            start = line.find(b'"t0":')
            if start >= 0:
                stamp = int(line[start + 5 :].split(b",")[0].split(b"}")[0])
                latencies.append((now_ns() - stamp) / 1e6)
    finally:
        writer.close()


def produce(send: object, seconds: float, rate: float, stop: threading.Event) -> int:
    sent, interval = 0, 1.0 / rate
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        send(now_ns())  # type: ignore[operator]
        sent += 1
        time.sleep(interval)
    return sent


async def measure(
    port: int, headers: str, clients: int, send: object, seconds: float, rate: float, pid: int
) -> dict[str, float]:
    latencies: list[float] = []
    ready, connected = asyncio.Event(), []
    tasks = [
        asyncio.create_task(client(port, headers, latencies, ready, connected, clients))
        for _ in range(clients)
    ]
    await asyncio.wait_for(ready.wait(), 30)
    await asyncio.sleep(0.5)  # let every subscription register
    proc = psutil.Process(pid)
    cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
    stop = threading.Event()
    sent = await asyncio.to_thread(produce, send, seconds, rate, stop)
    await asyncio.sleep(0.5)  # stragglers
    cpu = (sum(proc.cpu_times()[:2]) - cpu0) / (time.monotonic() - t0) * 100
    rss = proc.memory_info().rss / 2**20
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "sent": sent,
        "received": len(ordered),
        "p50": statistics.median(ordered) if ordered else float("nan"),
        "p99": ordered[int(len(ordered) * 0.99) - 1] if ordered else float("nan"),
        "cpu": cpu,
        "rss": rss,
    }


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def udp_sender(udp_port: int) -> object:
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(stamp: int) -> None:
        out.sendto(json.dumps({"t0": stamp}).encode(), ("127.0.0.1", udp_port))

    return send


def start_bare() -> tuple[subprocess.Popen[str], int, object]:
    udp_port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER, str(udp_port)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port, udp_sender(udp_port)


def start_houston(home: Path) -> tuple[subprocess.Popen[str], int, str, object, object]:
    """The server process; events come either from the bench process (another process
    appending: inotify wakes the server) or by UDP to a thread inside the server process
    (an engine sharing the process: the in-process listener wakes it)."""
    from houston.home.events import EventLog

    udp_port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOUSTON_SERVER, str(home), str(udp_port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port, token = proc.stdout.readline().split()
    log = EventLog(home / "events")

    def send(stamp: int) -> None:
        log.append("usage", mission="bench", data={"t0": stamp})

    return proc, int(port), token, send, udp_sender(udp_port)


def table(rows: list[tuple[str, dict[str, float]]]) -> str:
    head = (
        f"{'server':<10} {'clients':>7} {'events':>7} {'recv':>7} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'cpu %':>6} {'rss MiB':>8}"
    )
    lines = [head, "-" * len(head)]
    for name, r in rows:
        lines.append(
            f"{name:<10} {r['clients']:>7.0f} {r['sent']:>7.0f} {r['received']:>7.0f} "
            f"{r['p50']:>8.2f} {r['p99']:>8.2f} {r['cpu']:>6.1f} {r['rss']:>8.1f}"
        )
    return "\n".join(lines)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--clients", default="1,100")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        houston, hport, token, hsend, hudp = start_houston(Path(tmp) / ".houston")
        bare, bport, bsend = start_bare()
        auth = f"Authorization: Bearer {token}\r\n"
        try:
            for n in counts:  # interleaved so all see the same machine load
                rows.append(
                    (
                        "houston-x",
                        asyncio.run(
                            measure(hport, auth, n, hsend, args.seconds, args.rate, houston.pid)
                        ),
                    )
                )
                rows.append(
                    (
                        "houston",
                        asyncio.run(
                            measure(hport, auth, n, hudp, args.seconds, args.rate, houston.pid)
                        ),
                    )
                )
                rows.append(
                    (
                        "bare",
                        asyncio.run(
                            measure(bport, "", n, bsend, args.seconds, args.rate, bare.pid)
                        ),
                    )
                )
        finally:
            stop(houston)
            stop(bare)
    print(table(rows))
    for n in counts:
        b = next(r for name, r in rows if name == "bare" and r["clients"] == n)
        for label in ("houston", "houston-x"):
            h = next(r for name, r in rows if name == label and r["clients"] == n)
            print(
                f"{n} clients: {label}/bare p50 {h['p50'] / b['p50']:.2f}x, "
                f"p99 {h['p99'] / b['p99']:.2f}x"
            )
    print(f"({os.cpu_count()} CPUs, {args.rate:.0f} events/s for {args.seconds:.0f} s each)")


if __name__ == "__main__":
    main()
