"""The worker pool: warm workers, reaping, and backoff for workers that cannot start."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from helpers.engine import engine_thread, wait_for

from houston.engine.pool import INIT_SLOT, Pool
from houston.engine.protocol import Claim
from houston.engine.queues import JobQueues
from houston.home.layout import Home

pytestmark = pytest.mark.process


def test_workers_start_warm_and_stop(tmp_path: Path) -> None:
    pool = Pool(2, tmp_path / "workers.log")
    pool.start()
    try:
        assert sorted(pool.workers) == [0, 1, 2]  # N task slots plus the initializer slot
        for worker in pool.workers.values():
            message = wait_for(partial(pool.read, worker), what="ready")
            assert message[0]["type"] == "ready"
    finally:
        pool.stop()
    assert pool.workers == {}


def test_the_initializer_slot_can_start_after_the_task_slots(tmp_path: Path) -> None:
    pool = Pool(2, tmp_path / "workers.log")
    pool.start(initializer_later=True)
    try:
        assert sorted(pool.workers) == [1, 2]
        assert pool.check(respawn=True) == [] and sorted(pool.workers) == [1, 2]
        queues = JobQueues(pool)
        assert queues.idle(initializer=False) is None  # task workers: no spawn of slot 0
        assert INIT_SLOT not in pool.workers
        queues.idle(initializer=True)  # an initializer asks for its slot: it starts now
        pool.start_deferred()  # started once, never twice
        assert sorted(pool.workers) == [0, 1, 2] and pool.spawned == 3
        message = wait_for(lambda: pool.read(pool.workers[INIT_SLOT]), what="ready")
        assert message[0]["type"] == "ready"
    finally:
        pool.stop()


def test_the_engine_starts_the_initializer_slot_once_a_task_worker_is_up(home: Home) -> None:
    with engine_thread(home, workers=1) as engine:
        first = wait_for(
            lambda: [w for w in list(engine.pool.workers.values()) if w.ready],
            what="a ready worker",
        )
        assert first[0].slot == 1  # the task slot booted alone
        wait_for(
            lambda: (w := engine.pool.workers.get(INIT_SLOT)) is not None and w.ready,
            what="the initializer slot ready",
        )


def test_stop_kills_a_worker_still_starting_instead_of_waiting_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A "worker" that never says ready and, once its stdin closes, takes a second to exit
    # with its own code: waited for, it would end with 7.
    slow = tmp_path / "slow-start"
    slow.write_text("#!/bin/sh\nread line\nsleep 1\nexit 7\n")
    slow.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(slow))
    pool = Pool(1, tmp_path / "workers.log")
    pool.start()
    workers = list(pool.workers.values())
    pool.stop(grace=10.0)
    assert [w.proc.returncode for w in workers] == [-signal.SIGKILL] * 2


def test_a_worker_that_cannot_start_is_respawned_with_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(sys, "executable", false)  # every spawn dies at once
    pool = Pool(1, tmp_path / "workers.log")
    spawned: list[int] = []
    real_spawn = pool.spawn

    def counting_spawn(slot: int) -> object:
        spawned.append(slot)
        return real_spawn(slot)

    monkeypatch.setattr(pool, "spawn", counting_spawn)
    pool.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # a hot respawn loop would spawn hundreds here
            pool.check(respawn=True)
            if len(pool.failed_starts) == 2 and min(pool.failed_starts.values()) >= 2:
                break
            time.sleep(0.01)
        assert min(pool.failed_starts.values()) >= 2
        assert len(spawned) <= 12
        assert pool.next_respawn() is not None
    finally:
        pool.stop()


def test_an_agent_definition_travels_once_per_worker() -> None:
    import json

    from houston.engine.inbox import read_job
    from houston.runners import AGENT_KEYS

    job = {
        "mission_id": "m",
        "task_id": "a",
        "attempt": 1,
        "agent_ref": "p/once",
        "agent": {"runner": "python", "entrypoint": "m:f"},
        "prompt": "Be brief.",
        "package_dir": "/pkg",
        "inputs": {"n": 1},
        "mission_dir": "/m",
        "attempt_dir": "/m/tasks/a/attempts/1",
    }
    first, claim = read_job(json.dumps({"job": job, "claim": {"slot": 1}}).encode())
    assert claim == Claim(slot=1) and first.prompt == "Be brief."
    lean = {k: v for k, v in job.items() if k not in AGENT_KEYS} | {"task_id": "b"}
    second, _ = read_job(json.dumps({"job": lean}).encode())
    assert (second.task_id, second.agent, second.prompt, second.package_dir) == (
        "b",
        first.agent,
        "Be brief.",
        "/pkg",
    )
    with pytest.raises(KeyError):
        read_job(json.dumps({"job": {**lean, "agent_ref": "p/never-sent"}}).encode())


def test_the_inbox_gives_back_a_job_that_has_not_started() -> None:
    import io
    import json
    import os

    from houston.engine.inbox import Inbox

    def line(task: str) -> bytes:
        job = {
            "mission_id": "m",
            "task_id": task,
            "attempt": 1,
            "agent_ref": "p/inbox",
            "agent": {"runner": "python"},
            "prompt": "",
            "package_dir": "/p",
            "inputs": {},
            "mission_dir": "/m",
            "attempt_dir": f"/m/tasks/{task}/attempts/1",
        }
        return json.dumps({"job": job, "claim": {"slot": 1}}).encode() + b"\n"

    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as said, os.fdopen(write_fd, "wb") as messages:
        inbox = Inbox(messages.fileno())
        stream = io.BytesIO(
            line("a")
            + line("b")
            + b"not json\n"
            + b'{"retract": ["m", "b"]}\n'
            + b'{"retract": ["m", "zz"]}\n'
        )
        inbox.start(stream).join(timeout=10)
        first = inbox.next()
        assert first is not None and first[0] is not None and first[0].task_id == "a"
        bad = inbox.next()
        assert bad is not None and bad[0] is None and str(bad[2]).startswith("bad job")
        assert inbox.next() is None  # b was taken back; the stream is closed
        messages.close()
        answers = [json.loads(text) for text in said.read().decode().splitlines()]
    assert answers == [{"type": "dropped", "mission": "m", "task": "b"}]
