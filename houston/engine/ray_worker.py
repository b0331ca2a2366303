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
  per node), so nodes need Houston installed but not the packages or the home.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from houston.engine import worker
from houston.engine.inbox import send
from houston.engine.protocol import UsageReport
from houston.engine.taskfiles import write_json_fast
from houston.runners import Job, Outcome
from houston.secretfiles import setting

# Agents that read or write the mission folder itself run in this slot, on the engine's
# machine (they are bookkeeping, not work).
LOCAL_AGENTS = frozenset({"core/collect"})
CRASH_EXIT = 75  # the slot dies like a crashed worker: the engine requeues the task

_state: dict[str, Any] = {}  # the remote function and the shipped packages of this slot


def connect(environ: dict[str, str] | None = None) -> None:
    """Join the cluster: HOUSTON_RAY_ADDRESS (ray://...), else RAY_ADDRESS (ray.init's
    own rule). Ray's start-up chatter goes to stderr (the pool's log), never to fd 1."""
    import ray

    env = os.environ if environ is None else environ
    address = env.get("HOUSTON_RAY_ADDRESS") or None
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False,
                 namespace="houston")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    from houston.engine.ray_task import execute

    _state["remote"] = ray.remote(max_retries=0, retry_exceptions=False)(execute)
    _state["packages"] = {}


def shipped(package_dir: str) -> tuple[str, Any] | None:
    """(digest, object ref of the packed tree) for this package folder, packed once."""
    import ray

    from houston.pkg.build import pack_bytes, tree_digest

    packages: dict[str, tuple[str, Any] | None] = _state["packages"]
    if package_dir not in packages:
        folder = Path(package_dir)
        packages[package_dir] = ((tree_digest(folder), ray.put(pack_bytes(folder)))
                                 if package_dir and folder.is_dir() else None)
    return packages[package_dir]


def run_remote(job: Job, msg_fd: int) -> tuple[Outcome, dict[str, Any], bool]:
    """One attempt as a Ray task; the same triple as worker.run_job."""
    if job.agent_ref in LOCAL_AGENTS:
        return worker.run_job(job, msg_fd)
    import ray

    digest, blob = shipped(job.package_dir) or ("", None)
    data = {**job.to_dict(), "env": {**forwarded_env(job), **job.env}}
    # The blob's ref is a top-level argument: Ray resolves only those into their values.
    ref = _state["remote"].remote(data, digest, blob)
    try:
        answer: dict[str, Any] = ray.get(ref)
    except ray.exceptions.RayError as exc:
        setup = (ray.exceptions.RayTaskError, ray.exceptions.TaskUnschedulableError,
                 ray.exceptions.RuntimeEnvSetupError)
        if not isinstance(exc, setup):
            _crash(exc)
        return Outcome(ok=False, error=f"Ray could not run the attempt: {exc}"), {}, False
    return record_answer(job, answer, msg_fd)


def forwarded_env(job: Job, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The engine host's llm settings, which a Ray node's environment does not have: the
    HOUSTON_LLM_* variables, and the agent's API key (read here from its *_FILE if need
    be). They travel with the task, as the mission's own env does."""
    env = os.environ if environ is None else environ
    found = {k: v for k, v in env.items()
             if k.startswith("HOUSTON_LLM_") and not k.endswith(("_KEY", "_KEY_FILE"))}
    own = job.agent.get("llm")
    named = own.get("api_key_env") if isinstance(own, dict) else None
    key_name = str(named or job.agent.get("api_key_env") or "HOUSTON_LLM_API_KEY")
    if job.runner == "llm":
        key = setting(key_name, env)
        if key:
            found[key_name] = key
    return found


def record_answer(job: Job, answer: dict[str, Any],
                  msg_fd: int) -> tuple[Outcome, dict[str, Any], bool]:
    """Logs, usage and result of a remote attempt into its folder here (as run_job)."""
    attempt = job.attempt_dir
    logs = False
    for stream in ("stdout", "stderr"):
        text = str(answer.get(stream) or "")
        if text:  # an absent log means an empty one
            Path(attempt, f"{stream}.log").write_text(text)
            logs = True
    usage = {**answer["usage"], "tokens": int(answer["usage"]["tokens"]),
             "cost": float(answer["usage"]["cost"])}  # with the model and split, if said
    if usage["tokens"] or usage["cost"]:
        send(msg_fd, UsageReport(int(usage["tokens"]), float(usage["cost"])))
        write_json_fast(f"{attempt}/usage.json", usage)
    outcome = Outcome(ok=bool(answer["ok"]), result=answer.get("result"),
                      error=answer.get("error"), exit_code=answer.get("exit_code"),
                      signal=answer.get("signal"))
    if outcome.ok:
        write_json_fast(f"{attempt}/result.json", outcome.result or {})
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
