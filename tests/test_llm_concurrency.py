"""llm attempts run many at once in the network worker, not one per CPU slot; crash,
timeout, cancel and budget semantics stay those of any attempt. Real engines, workers and
a loopback OpenAI-compatible server."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from helpers.engine import (
    engine_thread,
    houston_process,
    make_test_package,
    outcome,
    run_engine,
    submit,
    wait_for,
)
from helpers.llm_loopback import Script, loopback

from houston import actions
from houston.engine.engine import Engine
from houston.home import attemptfiles, taskfiles
from houston.home.layout import Home
from houston.home.store import MissionRef, MissionStore

pytestmark = pytest.mark.process

CHAT = "---\nname: chat\ndescription: answers one question\n---\nAnswer in one word.\n"


@pytest.fixture
def llm_home(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    folder = make_test_package(home)
    (folder / "agents" / "chat.md").write_text(CHAT)
    monkeypatch.setenv("HOUSTON_LLM_MODEL", "tiny")
    monkeypatch.setenv("HOUSTON_LLM_STREAM", "0")
    monkeypatch.setenv("HOUSTON_LLM_TIMEOUT", "30")
    yield home


def chat_tasks(count: int, mode: str = "", extra: str = "") -> str:
    return "\n".join(
        f"  - {{id: c{i}, agent: t/chat, inputs: {{q: 'mode:{mode} {i}'}}{extra}}}"
        for i in range(count)
    )


def folder(home: Home, ref: MissionRef) -> Path:
    return MissionStore(home).locate(ref.id).path


def reasons(home: Home, ref: MissionRef, task: str) -> list[str]:
    path = folder(home, ref)
    records = [
        attemptfiles.read_exit(taskfiles.attempt_dir(path, task, n))
        for n in taskfiles.attempt_numbers(path, task)
    ]
    return [str(record.reason if record else None) for record in records]


def succeeded(home: Home, ref: MissionRef) -> bool:
    return outcome(home, ref) == ("COMPLETED", "succeeded")


def io_pid(engine: Engine) -> int | None:
    worker = engine.pool.workers.get(engine.pool.io_slot)
    return worker.pid if worker is not None and worker.ready else None


def test_llm_attempts_run_concurrently_beyond_the_cpu_slots(
    llm_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script(target=12)  # each call answers only once 12 are in flight together
    with loopback(script) as url:
        monkeypatch.setenv("HOUSTON_LLM_BASE_URL", url)
        ref = submit(llm_home, f"name: fan\ntasks:\n{chat_tasks(12, 'hold')}\n")
        finished = run_engine(llm_home, ref, workers=1, llm_concurrency=32)
    assert finished[ref.id][0].value == "succeeded"
    assert script.most == 12  # one CPU slot, twelve model calls at once
    for i in range(12):
        result = taskfiles.read_result(folder(llm_home, ref), f"c{i}")
        assert result is not None and result["text"] == "done"
        assert reasons(llm_home, ref, f"c{i}") == ["succeeded"]


def test_llm_concurrency_and_max_concurrency_bound_the_calls(
    llm_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    for limit, mission_cap in ((4, None), (32, 3)):
        script = Script(target=50)  # never reached: calls wait, then the test releases them
        with loopback(script) as url:
            monkeypatch.setenv("HOUSTON_LLM_BASE_URL", url)
            budget = f"budget: {{max_concurrency: {mission_cap}}}\n" if mission_cap else ""
            ref = submit(llm_home, f"name: capped\n{budget}tasks:\n{chat_tasks(10, 'hold')}\n")
            with engine_thread(llm_home, workers=2, llm_concurrency=limit):
                expected = mission_cap or limit
                assert script.wait_in_flight(expected), "calls never reached the cap"
                assert not script.wait_in_flight(expected + 1, seconds=1.0)
                script.release.set()
                wait_for(partial(succeeded, llm_home, ref))
            assert script.most == expected


def test_a_dead_network_worker_crashes_and_requeues_all_its_attempts(
    llm_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script()
    with loopback(script) as url:
        monkeypatch.setenv("HOUSTON_LLM_BASE_URL", url)
        text = f"name: crashy\ntasks:\n{chat_tasks(5, 'hang')}\n"
        ref = submit(llm_home, text)
        with engine_thread(llm_home, workers=1) as engine:
            assert script.wait_in_flight(5)
            pid = io_pid(engine)
            assert pid is not None
            script.release.set()  # from now on every call answers at once
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: outcome(llm_home, ref) == ("COMPLETED", "succeeded"), what="done")
    for i in range(5):
        found = reasons(llm_home, ref, f"c{i}")
        assert found[0] == "crashed" and found[-1] == "succeeded", found
        state = taskfiles.read_state(folder(llm_home, ref), f"c{i}")
        assert (state.failures if state else 0) == 0  # a crash does not use up retries


def test_a_timeout_stops_one_attempt_and_leaves_the_others_running(
    llm_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script()
    with loopback(script) as url:
        monkeypatch.setenv("HOUSTON_LLM_BASE_URL", url)
        ref = submit(
            llm_home,
            f"""name: slow-one
on_failure: continue
tasks:
  - {{id: stuck, agent: t/chat, timeout: 1, inputs: {{q: 'mode:hang'}}}}
{chat_tasks(4)}
""",
        )
        with engine_thread(llm_home, workers=1) as engine:
            wait_for(lambda: io_pid(engine), what="network worker")
            pid = io_pid(engine)
            wait_for(lambda: outcome(llm_home, ref) == ("COMPLETED", "failed"), what="done")
            assert io_pid(engine) == pid  # the worker was not killed to stop one attempt
    assert reasons(llm_home, ref, "stuck") == ["timeout"]
    for i in range(4):
        assert reasons(llm_home, ref, f"c{i}") == ["succeeded"]
    # The stopped attempt released its claim into its folder, like any attempt.
    assert (taskfiles.attempt_dir(folder(llm_home, ref), "stuck", 1) / "claim").is_dir()
    assert not (taskfiles.task_dir(folder(llm_home, ref), "stuck") / "lock").exists()


def test_cancel_stops_every_attempt_in_flight(
    llm_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script()
    with loopback(script) as url:
        monkeypatch.setenv("HOUSTON_LLM_BASE_URL", url)
        ref = submit(llm_home, f"name: stop-all\ntasks:\n{chat_tasks(6, 'hang')}\n")
        with engine_thread(llm_home, workers=1) as engine:
            assert script.wait_in_flight(6)
            pid = io_pid(engine)
            actions.cancel(MissionStore(llm_home), ref.id)
            wait_for(lambda: outcome(llm_home, ref) == ("COMPLETED", "cancelled"), what="done")
            assert io_pid(engine) == pid
    for i in range(6):
        assert reasons(llm_home, ref, f"c{i}") == ["cancelled"]


def test_a_budget_stops_a_streaming_call_between_chunks(
    llm_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script()
    with loopback(script) as url:
        monkeypatch.setenv("HOUSTON_LLM_BASE_URL", url)
        monkeypatch.setenv("HOUSTON_LLM_STREAM", "1")
        ref = submit(
            llm_home,
            """name: spender
budget: {max_tokens: 120}
tasks:
  - {id: talk, agent: t/chat, inputs: {q: 'mode:drip'}}
""",
        )
        finished = run_engine(llm_home, ref, workers=1)
        # The server's handler learns that its client left at its next write.
        wait_for(lambda: script.served >= 1, what="the call to end on the server")
    assert finished[ref.id][1].value == "budget_exceeded"
    assert reasons(llm_home, ref, "talk") == ["budget_exceeded"]
    assert script.served >= 1


def test_an_engine_stop_interrupts_llm_attempts_and_a_new_engine_finishes_them(
    llm_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script()
    with loopback(script) as url:
        monkeypatch.setenv("HOUSTON_LLM_BASE_URL", url)
        ref = submit(llm_home, f"name: restart\ntasks:\n{chat_tasks(4, 'hang')}\n")
        with engine_thread(llm_home, workers=1) as engine:
            assert script.wait_in_flight(4)
            engine.request_stop()  # graceful: attempts are interrupted, the mission requeued
            wait_for(lambda: outcome(llm_home, ref)[0] == "COMMITTED", what="requeued")
        script.release.set()
        with engine_thread(llm_home, workers=1):
            wait_for(lambda: outcome(llm_home, ref) == ("COMPLETED", "succeeded"), what="done")
    for i in range(4):
        assert reasons(llm_home, ref, f"c{i}") == ["interrupted", "succeeded"]


def test_houston_run_takes_llm_concurrency(
    llm_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script(target=3)  # calls answer once 3 are in flight (20 s at most)
    mission = tmp_path / "m.yaml"
    mission.write_text(f"name: cli-fan\ntasks:\n{chat_tasks(6, 'hold')}\n")
    with loopback(script) as url:
        monkeypatch.setenv("HOUSTON_LLM_BASE_URL", url)
        proc = houston_process(
            llm_home, "run", str(mission), "--no-ui", "--workers", "1", "--llm-concurrency", "3"
        )
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert script.most == 3 and script.served == 6
    assert b"succeeded" in out
