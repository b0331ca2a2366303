"""Records of the processes that work on a home (docs/formats.md):

- `engine.json` in an EXECUTING mission folder: the engine that claimed the mission,
  written right after the claim and removed just before the move out;
- under `run/`: each engine's `engine-<pid>.json`, the server's `server.json`, and the
  logs of the worker pool and of the embedded model server.

A record is `{"pid", "start_token", "host", "boot_id", ...}` (`engine.liveness`): the
same pid with another start token is another process.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from houston.home import fsio
from houston.home.layout import Home, engine_file

SERVER_RECORD = "server.json"
WORKERS_LOG = "workers.log"
LOCAL_MODEL_LOG = "local-model.log"


def write_engine_claim(mission_dir: Path, record: dict[str, Any]) -> None:
    # Not fsynced: after a power cut the claim line of transitions.jsonl names the engine.
    fsio.write_json_atomic(engine_file(mission_dir), record, durable=False)


def read_engine_claim(mission_dir: Path) -> dict[str, Any] | None:
    """The claiming engine's record; None when there is none or it cannot be read (an
    engine killed between the claim and this write, a torn or foreign file)."""
    try:
        record = fsio.read_json(engine_file(mission_dir))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def remove_engine_claim(mission_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        engine_file(mission_dir).unlink()


def engine_record_path(home: Home, pid: int) -> Path:
    """`run/engine-<pid>.json`: an engine of this machine, while it runs."""
    return home.run / f"engine-{pid}.json"


def engine_record_paths(home: Home) -> list[Path]:
    """Every engine record of `run/`, live or left by a dead engine, sorted by name."""
    return sorted(home.run.glob("engine-*.json"))


def server_record_path(home: Home) -> Path:
    return home.run / SERVER_RECORD


def workers_log_path(home: Home) -> Path:
    return home.run / WORKERS_LOG


def local_model_log_path(home: Home) -> Path:
    return home.run / LOCAL_MODEL_LOG
