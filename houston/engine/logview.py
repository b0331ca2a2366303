"""`houston logs`: print the attempt logs of a mission's tasks, and follow them.

Reading only. The mission may move between state folders while we follow it, so its
folder is located again on every pass; following ends once it is COMPLETED.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from houston.core.errors import NotFoundError, UsageError
from houston.core.ids import is_safe_id
from houston.core.lifecycle import MissionState
from houston.home import taskfiles
from houston.home.store import MissionStore

STREAMS = ("stdout", "stderr")


def print_logs(store: MissionStore, mission_id: str, task: str | None, *, follow: bool,
               write: Callable[[str], None], sleep: Callable[[float], None],
               interval: float = 0.25) -> None:
    ref = store.locate(mission_id)
    if task is not None and not is_safe_id(task):  # never a path: too long, or with a /
        raise UsageError(f"{task[:80]!r} is not a task id",
                         fix=f"see `houston show {mission_id}` for its tasks")
    if task is not None and taskfiles.read_spec(ref.path, task) is None:
        raise NotFoundError(f"mission {mission_id} has no task {task!r}",
                            where=str(ref.path / "tasks"), fix=f"see `houston show {mission_id}`")
    offsets: dict[tuple[str, int, str], int] = {}
    while True:
        ref = store.locate(mission_id)
        wanted = [task] if task else taskfiles.task_ids(ref.path)
        for task_id in wanted:
            _print_task(ref.path, task_id, offsets, write, prefix=follow and not task)
        if not follow or ref.state is MissionState.COMPLETED:
            return
        sleep(interval)


def _print_task(mission_dir: Path, task_id: str, offsets: dict[tuple[str, int, str], int],
                write: Callable[[str], None], *, prefix: bool) -> None:
    numbers = taskfiles.attempt_numbers(mission_dir, task_id)
    if not numbers:
        return
    number = numbers[-1]
    for stream in STREAMS:
        key = (task_id, number, stream)
        path = taskfiles.attempt_dir(mission_dir, task_id, number) / f"{stream}.log"
        try:
            with open(path, "rb") as f:
                f.seek(offsets.get(key, 0))
                data = f.read()
        except FileNotFoundError:
            continue
        end = data.rfind(b"\n") + 1 if key in offsets or prefix else len(data)
        if end <= 0:
            continue
        offsets[key] = offsets.get(key, 0) + end
        text = data[:end].decode(errors="replace")
        if prefix:
            write("".join(f"[{task_id}] {line}\n" for line in text.splitlines()))
        else:
            write(f"==> {task_id} attempt {number} {stream} <==\n{text}")
            if not text.endswith("\n"):
                write("\n")
