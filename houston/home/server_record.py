"""`run/server.json` (docs/formats.md): the `houston serve` listening on this machine, for
scripts and people who want its port. Written when it listens, removed when it stops, by
that server only (another server's record is left alone)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from houston.home import fsio
from houston.home.layout import Home


@dataclass(frozen=True, slots=True)
class ServerRecord:
    pid: int
    host: str
    port: int
    url: str  # without the token
    started: float  # epoch seconds

    def encode(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "url": self.url,
            "started": self.started,
        }

    @classmethod
    def parse(cls, raw: object) -> ServerRecord | None:
        """The record, or None for a file that is not one."""
        if not isinstance(raw, dict):
            return None
        pid, port, host, url = raw.get("pid"), raw.get("port"), raw.get("host"), raw.get("url")
        started = raw.get("started")
        if not (isinstance(pid, int) and isinstance(port, int)):
            return None
        if not (isinstance(host, str) and isinstance(url, str)):
            return None
        if not isinstance(started, int | float) or isinstance(started, bool):
            return None
        return cls(pid, host, port, url, float(started))


def write_server_record(home: Home, record: ServerRecord) -> None:
    fsio.write_json_atomic(home.server_record, record.encode(), durable=False)


def read_server_record(home: Home) -> ServerRecord | None:
    with contextlib.suppress(FileNotFoundError, ValueError):
        return ServerRecord.parse(fsio.read_json(home.server_record))
    return None


def remove_server_record(home: Home, pid: int, port: int) -> None:
    """Remove run/server.json if it is the record of the server `pid` on `port`."""
    record = read_server_record(home)
    if record is not None and (record.pid, record.port) == (pid, port):
        with contextlib.suppress(FileNotFoundError):
            home.server_record.unlink()
