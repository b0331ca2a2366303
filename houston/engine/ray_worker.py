"""A worker slot whose attempts run as Ray tasks (`houston run|serve --executor ray`).

It is a warm worker (houston.engine.worker: same protocol, same claim, record, accept and
release on this machine) whose `run` step submits the attempt to Ray instead of running
it here, so the engine and the home stay on one machine and only the agent's work moves.
Each slot is one Ray driver; what that implies, and why:

- Tasks are submitted with `max_retries=0, retry_exceptions=False`: Ray's own retry of a
  task whose worker died would be a second run of an attempt behind Houston's back.
- Cancel, timeout and budget stops: the engine kills this slot like any worker running an
  in-process agent; Ray then kills the tasks this driver owns (their worker processes).
- A lost node or Ray worker (NodeDiedError, WorkerCrashedError, ...) is a crash: this
  slot exits at once without recording the attempt, the engine sees a dead worker and
  requeues the task as a new attempt (within its crash cap). An accepted result is on
  this machine's disk, never on a node: it is never run again.
- The agent's package is shipped with the task (packed once per slot, unpacked once
  per node), and so is what the attempt reads of its mission (`view`), so nodes need
  Houston installed but not the packages or the home.
- Usage of python and command attempts comes back when the attempt ends (budgets are
  checked then). The network worker's llm attempts report it while they run: the node
  posts each report to that driver's ProgressBox (houston.engine.ray_task) and a thread
  there passes it on to the engine (`LiveUsage`, `start_progress`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from houston.engine import worker
from houston.engine.inbox import send
from houston.engine.protocol import UsageReport
from houston.home import attemptfiles
from houston.home.attempt_records import UsageRecord
from houston.runners import Job, Outcome, context
from houston.secretfiles import setting

# Agents that read or write the mission folder itself run in this slot, on the engine's
# machine (they are bookkeeping, not work).
LOCAL_AGENTS = frozenset({"core/collect"})
CRASH_EXIT = 75  # the slot dies like a crashed worker: the engine requeues the task

_state: dict[str, Any] = {}  # the remote function and the shipped packages of this slot
Key = tuple[str, str, int]  # mission, task, attempt


class LiveUsage:
    """Usage the nodes post while attempts run, passed on once: `open` an attempt before
    its task is submitted, `close` it when it ends, which gives what was reported (a post
    that arrives after `close` is dropped)."""

    def __init__(self, report: Callable[[Key, int, float], None]) -> None:
        self.report = report
        self.lock = threading.Lock()
        self.reported: dict[Key, tuple[int, float]] = {}

    def open(self, key: Key) -> None:
        with self.lock:
            self.reported[key] = (0, 0.0)

    def post(self, item: dict[str, Any]) -> None:
        raw = item.get("key") or ("", "", 0)
        key = (str(raw[0]), str(raw[1]), int(raw[2]))
        tokens, cost = int(item.get("tokens") or 0), float(item.get("cost") or 0.0)
        with self.lock:
            if key not in self.reported:
                return
            old = self.reported[key]
            self.reported[key] = (old[0] + tokens, round(old[1] + cost, 10))
            self.report(key, tokens, cost)  # under the lock: `close` waits for it

    def close(self, key: Key) -> UsageRecord:
        """What was reported of the attempt as it ran (tokens and cost)."""
        with self.lock:
            tokens, cost = self.reported.pop(key, (0, 0.0))
        return UsageRecord(tokens, cost)


def start_progress(live: LiveUsage) -> str:
    """The driver's ProgressBox: an async actor on this driver's node (it lives as long
    as the driver's job), read by a daemon thread that hands each post to `live`; its
    name (attempts look it up by name: houston.engine.ray_task.box_named)."""
    import uuid

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from houston.engine.ray_task import ProgressBox

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    name = f"houston-progress-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    box: Any = (
        ray.remote(num_cpus=0, max_restarts=0)(ProgressBox)
        .options(scheduling_strategy=here, name=name, namespace="houston")
        .remote()
    )

    def read() -> None:
        while True:
            try:
                items = ray.get(box.take.remote(1.0))
            except ray.exceptions.RayError as exc:  # the totals still come with each answer
                sys.stderr.write(f"houston ray driver: live usage stopped: {exc}\n")
                return
            for item in items:
                live.post(item)

    threading.Thread(target=read, daemon=True, name="ray-progress").start()
    return name


def connect(environ: dict[str, str] | None = None) -> None:
    """Join the cluster: HOUSTON_RAY_ADDRESS (ray://...), else RAY_ADDRESS (ray.init's
    own rule). Ray's start-up chatter goes to stderr (the pool's log), never to fd 1."""
    import ray

    env = os.environ if environ is None else environ
    address = env.get("HOUSTON_RAY_ADDRESS") or None
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False, namespace="houston")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    from houston.engine.ray_task import execute

    _state["remote"] = ray.remote(max_retries=0, retry_exceptions=False)(execute)
    _state["packages"] = {}


def view_of(job: Job) -> dict[str, Any]:
    """What the attempt reads of its mission, read here where the home is."""
    return {
        "inputs": context.resolved_inputs(job) if job.inputs else job.inputs,
        "needs": context.needs_results(job),
        "context": context.mission_context(job),
    }


def shipped(package_dir: str) -> tuple[str, Any] | None:
    """(digest, object ref of the packed tree) for this package folder, packed once."""
    import ray

    from houston.pkg.build import pack_bytes, tree_digest

    packages: dict[str, tuple[str, Any] | None] = _state["packages"]
    if package_dir not in packages:
        folder = Path(package_dir)
        packages[package_dir] = (
            (tree_digest(folder), ray.put(pack_bytes(folder)))
            if package_dir and folder.is_dir()
            else None
        )
    return packages[package_dir]


def submit(job: Job, box: str | None, **options: Any) -> Any:
    """The attempt as a Ray task (`options` for Ray, e.g. num_cpus); its object ref."""
    digest, blob = shipped(job.package_dir) or ("", None)
    data = {**job.to_dict(), "env": {**forwarded_env(job), **job.env}}
    remote = _state["remote"].options(**options) if options else _state["remote"]
    # The blob's ref is a top-level argument: Ray resolves only those into their values.
    return remote.remote(data, digest, blob, view_of(job), box)


def is_crash(exc: BaseException) -> bool:
    """A Ray failure that is not the attempt's own: its node or worker was lost."""
    import ray

    setup = (
        ray.exceptions.RayTaskError,
        ray.exceptions.TaskUnschedulableError,
        ray.exceptions.RuntimeEnvSetupError,
    )
    return not isinstance(exc, setup)


def run_remote(job: Job, msg_fd: int) -> tuple[Outcome, UsageRecord, bool]:
    """One attempt as a Ray task; the same triple as worker.run_job."""
    if job.agent_ref in LOCAL_AGENTS:
        return worker.run_job(job, msg_fd)
    import ray

    try:
        # No ProgressBox here: an actor is one more Ray worker process per slot, whose
        # start-up cost the whole engine more than live usage of python and command
        # attempts is worth (they report it when they end; llm attempts report it live).
        answer: dict[str, Any] = ray.get(submit(job, None))
    except ray.exceptions.RayError as exc:
        if is_crash(exc):
            _crash(exc)
        return (
            Outcome(ok=False, error=f"Ray could not run the attempt: {exc}"),
            UsageRecord(),
            False,
        )
    return record_answer(job, answer, msg_fd)


def forwarded_env(job: Job, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The engine host's llm settings, which a Ray node's environment does not have: the
    HOUSTON_LLM_* variables, and the agent's API key (read here from its *_FILE if need
    be). They travel with the task, as the mission's own env does."""
    env = os.environ if environ is None else environ
    found = dict(_llm_settings(env) if environ is not None else _own_llm_settings())
    own = job.agent.get("llm")
    named = own.get("api_key_env") if isinstance(own, dict) else None
    key_name = str(named or job.agent.get("api_key_env") or "HOUSTON_LLM_API_KEY")
    if job.runner == "llm":
        key = setting(key_name, env)
        if key:
            found[key_name] = key
    return found


def write_logs(job: Job, answer: dict[str, Any]) -> bool:
    """The remote attempt's logs into its folder here; True if it wrote any. Its events
    go to the home's event log."""
    logs = False
    for stream in attemptfiles.LOG_STREAMS:
        text = str(answer.get(stream) or "")
        if text:  # an absent log means an empty one
            Path(attemptfiles.log_path(job.attempt_dir, stream)).write_text(text)
            logs = True
    for event in answer.get("events") or ():
        worker.WorkerContext(job, -1).emit(str(event["type"]), dict(event["data"]))
    return logs


def _llm_settings(env: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in env.items()
        if k.startswith("HOUSTON_LLM_") and not k.endswith(("_KEY", "_KEY_FILE"))
    }


@functools.cache
def _own_llm_settings() -> dict[str, str]:
    """This slot's HOUSTON_LLM_* settings: its environment does not change while it runs,
    and reading all of os.environ again cost each attempt 0.4 ms."""
    return _llm_settings(os.environ)


def usage_of(answer: dict[str, Any]) -> UsageRecord:
    """The attempt's usage.json from its answer: with the model and split, if said
    (the answer carries the remote context's record, encoded)."""
    return UsageRecord.parse(answer.get("usage")) or UsageRecord()


def record_answer(
    job: Job, answer: dict[str, Any], msg_fd: int
) -> tuple[Outcome, UsageRecord, bool]:
    """Logs, usage and result of a remote attempt into its folder here (as run_job)."""
    attempt = job.attempt_dir
    logs = write_logs(job, answer)
    usage = usage_of(answer)
    if usage.tokens or usage.cost:
        send(msg_fd, UsageReport(usage.tokens, usage.cost))
        attemptfiles.write_usage(attempt, usage)
    outcome = Outcome(
        ok=bool(answer["ok"]),
        result=answer.get("result"),
        error=answer.get("error"),
        exit_code=answer.get("exit_code"),
        signal=answer.get("signal"),
    )
    if outcome.ok:
        attemptfiles.write_result(attempt, outcome.result or {})
    return outcome, usage, logs


def _crash(exc: BaseException) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(f"houston ray worker {os.getpid()}: the attempt was lost: {exc}\n")
        sys.stderr.flush()
    os._exit(CRASH_EXIT)


@contextlib.contextmanager
def cluster_for(executor_env: dict[str, str]) -> Iterator[None]:
    """With no address given (no ray://, no RAY_ADDRESS), start one local Ray instance
    for the whole engine, not one per slot, and point the slots at it; stop it after."""
    if executor_env.get("HOUSTON_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS"):
        yield
        return
    import ray

    saved = os.dup(1)
    os.dup2(2, 1)  # Ray's start-up chatter stays off the terminal's progress display
    try:
        context = ray.init(log_to_driver=False, configure_logging=False, namespace="houston")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    os.environ["RAY_ADDRESS"] = str(context.address_info["gcs_address"])  # type: ignore[attr-defined]
    try:
        yield
    finally:
        os.environ.pop("RAY_ADDRESS", None)
        ray.shutdown()


def main() -> None:
    connect()
    worker.main(run=run_remote)


if __name__ == "__main__":
    main()
