"""Engine commands: `run`, `serve`, `recover`, `retry`, `logs`.

Signal handlers live in the engine's process only (houston.cli.foreground): the first
SIGINT (or SIGTERM) asks the engine to stop gracefully, the second forces it. `run`
cancels its mission on a stop; `serve` hands its running missions back to COMMITTED for
the next engine.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from houston.cli import render
from houston.cli.foreground import drive, start_ui
from houston.core.errors import MissionFailed, NotFoundError, UsageError
from houston.core.lifecycle import Outcome
from houston.home.layout import Home
from houston.home.store import MissionStore

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
workers_option = click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Parallel task slots [default: CPU count].",
)
port_option = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Dashboard port (0 = any free port).",
)
host_option = click.option(
    "--host", default="127.0.0.1", show_default=True, help="Dashboard address."
)
no_ui_option = click.option("--no-ui", is_flag=True, help="Do not start the dashboard.")
llm_option = click.option(
    "--llm-concurrency",
    type=click.IntRange(1, 1024),
    default=32,
    show_default=True,
    help="llm attempts at once (they wait on the network, not a slot).",
)
executor_option = click.option(
    "--executor",
    default="local",
    show_default=True,
    metavar="local|ray|ray://HOST:PORT",
    help="Where attempts run: here, or as Ray tasks (RAY_ADDRESS, or a Ray Client address).",
)


def _home(ctx: click.Context) -> Home:
    from houston.cli.missions import _home as home_of

    return home_of(ctx)


def load_target(home: Home, target: str, params: dict[str, str]) -> tuple[bytes, str]:
    """A mission file, or PACKAGE/WORKFLOW rendered with --set parameters."""
    from houston.cli.missions import read_mission_file

    if target == "-" or Path(target).exists() or target.endswith((".yaml", ".yml")):
        return read_mission_file(target, params)
    if target.count("/") != 1:
        raise NotFoundError(
            f"no mission file {target!r}",
            fix="give a path to a mission.yaml or a PACKAGE/WORKFLOW name",
        )
    try:
        workflows = importlib.import_module("houston.pkg.workflows")
    except ImportError as exc:
        raise UsageError("packaged workflows are not available in this build") from exc
    data, source = workflows.render_workflow(home, target, params)
    return bytes(data), str(source)


def parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {value!r} is not key=value", fix="write --set name=value")
        params[key.strip()] = text
    return params


def approve_gate(gated: bool, approve: bool, name: str) -> bool:
    if not gated or approve:
        return approve
    if not sys.stdin.isatty():
        raise UsageError(
            f"mission {name!r} needs approval and this is not a terminal",
            fix="pass --approve, or submit it and `houston approve ID` later",
        )
    if not click.confirm(f"mission {name!r} asks for approval. Run it?", default=False, err=True):
        raise UsageError("not approved", fix="run again and answer yes, or pass --approve")
    return True


@click.command()
@click.argument("target", metavar="FILE|PACKAGE/WORKFLOW")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="K=V",
    help="A parameter of the workflow or mission file.",
)
@workers_option
@llm_option
@click.option("--approve", is_flag=True, help="Approve a gated mission without asking.")
@no_ui_option
@port_option
@host_option
@executor_option
@click.pass_context
def run(
    ctx: click.Context,
    target: str,
    sets: tuple[str, ...],
    workers: int | None,
    llm_concurrency: int,
    approve: bool,
    no_ui: bool,
    port: int,
    host: str,
    executor: str,
) -> None:
    """Submit a mission and run it in the foreground until it completes."""
    from houston import actions
    from houston.engine.engine import EngineOptions
    from houston.engine.executors import parse_executor
    from houston.mission import load_mission

    chosen = parse_executor(executor)
    home = _home(ctx)
    data, source = load_target(home, target, parse_sets(sets))
    spec = load_mission(data, source)
    if spec.requires:
        _ensure_requirements(home, spec.requires)
    approved = approve_gate(spec.gate == "approve", approve, spec.name)
    ref = actions.submit(MissionStore(home), data, source, approve=approved)
    render.emit(f"mission {ref.id}")
    ui = None if no_ui else start_ui(home, host, port)
    options = EngineOptions(
        missions={ref.id}, on_stop="cancel", llm_concurrency=llm_concurrency, executor=chosen
    )
    if workers:
        options.workers = workers
    finished = drive(home, options, tty=sys.stderr.isatty(), ui=ui)
    if ui is not None and sys.stderr.isatty():
        sys.stderr.write("the dashboard closed with the run; `houston serve` keeps one open\n")
    _exit_for(home, ref.id, finished)


def _ensure_requirements(home: Home, requires: list[str]) -> None:
    try:
        pkg = importlib.import_module("houston.pkg")
    except ImportError:
        return
    ensure = getattr(pkg, "ensure_requirements", None)
    if ensure is not None:
        ensure(home, list(requires))


def _exit_for(home: Home, mission_id: str, finished: dict[str, Any]) -> None:
    result = finished.get(mission_id)
    if result is None:  # stopped before the end: say where the mission really is
        ref = MissionStore(home).locate_or_none(mission_id)
        state = ref.state.value if ref else "gone"
        raise MissionFailed(
            f"stopped following mission {mission_id} before it finished: it is {state}",
            fix=f"`houston show {mission_id}`; `houston serve` runs what is "
            f"in COMMITTED, `houston cancel {mission_id}` stops it",
        )
    outcome, reason = result
    if outcome is not Outcome.SUCCEEDED:
        raise MissionFailed(
            f"mission {mission_id} {outcome.value} ({reason.value})",
            fix=f"see `houston show {mission_id}` and `houston logs {mission_id}`",
        )
    render.emit(f"mission {mission_id} succeeded")


@click.command()
@workers_option
@llm_option
@no_ui_option
@port_option
@host_option
@click.option("--until-idle", is_flag=True, help="Exit once nothing is left to run.")
@executor_option
@click.pass_context
def serve(
    ctx: click.Context,
    workers: int | None,
    llm_concurrency: int,
    no_ui: bool,
    port: int,
    host: str,
    until_idle: bool,
    executor: str,
) -> None:
    """Run every committed mission until SIGTERM or Ctrl-C."""
    from houston.engine.engine import EngineOptions
    from houston.engine.executors import parse_executor

    chosen = parse_executor(executor)
    home = _home(ctx).ensure()
    ui = None if no_ui else start_ui(home, host, port)
    options = EngineOptions(
        until_idle=until_idle, on_stop="requeue", llm_concurrency=llm_concurrency, executor=chosen
    )
    if workers:
        options.workers = workers
    render.emit(f"serving {home.root} with {options.workers} workers (pid {os.getpid()})")
    drive(home, options, tty=False, ui=ui)


@click.command()
@json_option
@click.option("--finish", is_flag=True, help="Then run the recovered missions to the end.")
@workers_option
@click.pass_context
def recover(ctx: click.Context, as_json: bool, finish: bool, workers: int | None) -> None:
    """Run one crash-recovery sweep (idempotent) and print what it did."""
    from houston.engine.recovery import remove_dead_engine_records, sweep

    home = _home(ctx).require()
    actions = sweep(home)
    gone = remove_dead_engine_records(home)
    # Missions an earlier sweep (or a stopped engine) handed back wait in COMMITTED too.
    requeued = {a["mission"] for a in actions if a["action"] == "requeued_mission"}
    waiting = handed_back(MissionStore(home)) - requeued
    if as_json:
        render.emit_json({"actions": actions, "removed_engine_records": gone})
    else:
        _print_recovery(actions, finish)
        for pid in gone:
            render.emit(f"removed the record of engine {pid}: it is not running")
        if waiting:
            render.emit(
                f"{len(waiting)} mission(s) recovered earlier wait in COMMITTED"
                + ("" if finish else ": `houston recover --finish` runs them")
            )
        elif not actions and not gone:
            render.emit("nothing to recover")
    targets = requeued | waiting
    if finish and targets:
        from houston.engine.engine import EngineOptions

        options = EngineOptions(missions=targets, on_stop="requeue")
        if workers:
            options.workers = workers
        finished = drive(home, options, tty=sys.stderr.isatty())
        failed = [m for m, (outcome, _) in finished.items() if outcome is not Outcome.SUCCEEDED]
        if failed:
            raise MissionFailed(f"recovered missions did not succeed: {', '.join(failed)}")


def handed_back(store: MissionStore) -> set[str]:
    """Missions in COMMITTED whose last move was a recovery (not a fresh submission)."""
    from houston.core.lifecycle import MissionState, Reason

    found = set()
    for mission_id in store.ids_in(MissionState.COMMITTED):
        ref = store.locate_or_none(mission_id)
        trail = store.transitions(ref) if ref is not None else []
        if trail and trail[-1].get("reason") == Reason.RECOVERED.value:
            found.add(mission_id)
    return found


def _print_recovery(actions: list[dict[str, Any]], finish: bool) -> None:
    for action in actions:
        if action["action"] != "requeued_mission":
            render.emit(_describe_repair(action))
            continue
        tasks = action.get("tasks") or []
        render.emit(
            f"{action['mission']}: engine dead, back to COMMITTED "
            f"({len(tasks)} task(s) requeued or accepted)"
        )
        for task in tasks:
            what = "accepted its result" if task["accepted"] else "requeued"
            extra = ", stopped its agent" if task["stopped_agent"] else ""
            render.emit(f"  {task['task']} (attempt {task['attempt']}): {what}{extra}")
    if any(a["action"] == "requeued_mission" for a in actions) and not finish:
        render.emit("run `houston serve` (or `houston recover --finish`) to finish them")


def _describe_repair(action: dict[str, Any]) -> str:
    kind = action["action"]
    if kind == "finished_move":
        return (
            f"{action['mission']}: recorded its move {action['from']} -> {action['to']} "
            "(its mover died after the rename)"
        )
    if kind == "repaired_status":
        return (
            f"{action['mission']}: status.json said {action['from']}, the folder "
            f"{action['to']}: recorded as recovered"
        )
    if kind == "removed_staging":
        return f"removed {action['path']} (staging of an interrupted submit)"
    return f"removed {action['path']} (an interrupted write)"


@click.command()
@click.argument("mission_id", metavar="ID")
@click.option("--detach", is_flag=True, help="Only requeue; let `houston serve` run it.")
@workers_option
@click.pass_context
def retry(ctx: click.Context, mission_id: str, detach: bool, workers: int | None) -> None:
    """Run a failed or cancelled mission's unfinished tasks again, as new attempts."""
    from houston import actions
    from houston.engine.engine import EngineOptions

    home = _home(ctx).require()
    ref = actions.retry(MissionStore(home), mission_id)
    render.emit(f"mission {ref.id} -> {ref.state.value}")
    if detach:
        return
    options = EngineOptions(missions={ref.id}, on_stop="cancel")
    if workers:
        options.workers = workers
    _exit_for(home, ref.id, drive(home, options, tty=sys.stderr.isatty()))


@click.command()
@click.argument("mission_id", metavar="ID")
@click.argument("task", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the mission ends.")
@click.pass_context
def logs(ctx: click.Context, mission_id: str, task: str | None, follow: bool) -> None:
    """Print the logs of a mission's tasks (latest attempt), or of one TASK."""
    from houston.views import logs

    store = MissionStore(_home(ctx).require())
    logs.print_logs(
        store, store.resolve(mission_id).id, task, follow=follow, write=_write_out, sleep=time.sleep
    )


def _write_out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
