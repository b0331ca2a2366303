"""Mission commands: `init`, `submit`, `ls`, `show`, `approve`, `reject`, `cancel`.

Thin: each command parses its options, calls `houston.actions` or `houston.views`,
and prints. Read commands never create the home (`Home.require()`); `submit` creates it
only after the mission file proved valid, so bad input leaves the disk untouched.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from houston.cli import render
from houston.core.errors import NotFoundError, UsageError, from_os_error
from houston.core.lifecycle import MissionState, parse_state
from houston.core.taskstate import TaskState
from houston.home.layout import Home
from houston.home.store import STATE_ORDER, MissionStore

# A mission file is small; read a little more than any sane one to refuse a huge file
# before it is parsed (the mission loader enforces the exact cap with a precise message).
READ_CAP = 16 * 1024 * 1024
TASK_COLUMNS = ("TASK", "AGENT", "STATE", "ATTEMPT", "DURATION", "TOKENS", "COST", "ERROR")

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _home(ctx: click.Context) -> Home:
    from houston.cli.main import Config

    config = ctx.find_object(Config)
    home = config.home if config is not None else Home.locate()
    assert isinstance(home, Home)
    return home


def _store(ctx: click.Context) -> MissionStore:
    return MissionStore(_home(ctx).require())


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the home folder and its layout (safe to run again)."""
    home = _home(ctx).ensure()
    render.emit(f"home ready: {home.root}")


@click.command()
@click.argument("file", metavar="FILE")
@click.option("--approve", is_flag=True, help="Approve a gated mission at once.")
@json_option
@click.pass_context
def submit(ctx: click.Context, file: str, approve: bool, as_json: bool) -> None:
    """Validate FILE (a mission.yaml, or - for stdin) and submit it."""
    from houston import actions

    data, source = read_mission_file(file)
    ref = actions.submit(MissionStore(_home(ctx)), data, source, approve=approve)
    if as_json:
        render.emit_json({"id": ref.id, "state": ref.state.value, "path": str(ref.path)})
        return
    render.emit(f"submitted {ref.id} -> {ref.state.value}")
    if ref.state is MissionState.PLANNING:
        render.emit(f"waiting for approval: houston approve {ref.id}")


def read_mission_file(file: str, sets: dict[str, str] | None = None) -> tuple[bytes, str]:
    """The bytes of FILE (its parameters filled from `sets`) and the name for messages."""
    from houston.mission_params import render_mission_file

    if file == "-":
        data = sys.stdin.buffer.read(READ_CAP + 1)
        return render_mission_file(data, "<stdin>", sets or {}), "<stdin>"
    try:
        with open(file, "rb") as f:
            data = f.read(READ_CAP + 1)
    except FileNotFoundError:
        raise NotFoundError(
            "no such mission file", where=file, fix="check the path (or use - for stdin)"
        ) from None
    except IsADirectoryError:
        raise UsageError(
            "this is a folder, not a mission file", where=file, fix="give the mission.yaml inside"
        ) from None
    except OSError as exc:
        if from_os_error(exc) is not None:
            raise  # permission denied (exit 3), a name too long (exit 2): said in one place
        raise UsageError(f"cannot read the mission file: {exc.strerror}", where=file) from None
    return render_mission_file(data, file, sets or {}), file


@click.command(name="ls")
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="Only missions in STATE (planning, committed, executing, completed); repeatable.",
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--page", default=1, show_default=True, type=click.IntRange(1))
@json_option
@click.pass_context
def ls(ctx: click.Context, states: tuple[str, ...], limit: int, page: int, as_json: bool) -> None:
    """List missions, newest first, one page at a time."""
    from houston.views.tasks import read_row

    chosen = tuple(dict.fromkeys(parse_state(s) for s in states)) or STATE_ORDER
    store = _store(ctx)
    refs, total = store.page(chosen, limit=limit, offset=(page - 1) * limit)
    now = datetime.now(UTC)
    rows = [read_row(store, ref, now) for ref in refs]
    if as_json:
        pages = {"page": page, "limit": limit, "total": total}
        render.emit_json({"missions": rows, **pages})
        return
    render.emit(format_ls(rows, page=page, limit=limit, total=total))


def format_ls(rows: list[dict[str, Any]], *, page: int, limit: int, total: int) -> str:
    if not rows:
        return "no missions" if total == 0 else f"no missions on page {page} (there are {total})"
    table = render.format_table(
        ("ID", "STATE", "OUTCOME", "NAME", "TASKS", "AGE"),
        [
            (
                r["id"],
                r["state"],
                r["outcome"],
                render.truncate(r["name"], 40),
                f"{r['done']}/{r['total']}",
                render.format_age(r["age"]),
            )
            for r in rows
        ],
    )
    pages = max(1, -(-total // limit))
    if pages == 1:
        return table
    more = f"; next: houston ls --page {page + 1}" if page < pages else ""
    return f"{table}\npage {page} of {pages} ({total} missions){more}"


@click.command()
@click.argument("mission_id", metavar="ID")
@json_option
@click.pass_context
def show(ctx: click.Context, mission_id: str, as_json: bool) -> None:
    """Show one mission: state, spend, tasks and transitions. ID may be a unique prefix."""
    from houston.views.mission import mission_detail

    store = _store(ctx)
    view = mission_detail(store, store.resolve(mission_id), datetime.now(UTC))
    if as_json:
        render.emit_json(view)
        return
    render.emit(format_show(view))


def format_show(view: dict[str, Any]) -> str:
    """Pure: the mission's key lines, then its tasks, worktrees and transitions."""
    parts = [_show_head(view)]
    if view["tasks"]:
        parts.append(render.format_table(TASK_COLUMNS, [_task_row(t) for t in view["tasks"]]))
    trees = [
        (
            t["id"],
            w["attempt"],
            w.get("state"),
            w.get("branch"),
            (w.get("commit") or "")[:10],
            w.get("worktree"),
        )
        for t in view["tasks"]
        for w in t.get("worktrees") or []
    ]
    if trees:
        parts.append(
            render.format_table(("TASK", "ATTEMPT", "WORK", "BRANCH", "COMMIT", "WORKTREE"), trees)
        )
    trail = [
        (t.get("ts"), t.get("from"), t.get("to"), t.get("reason")) for t in view["transitions"]
    ]
    if trail:
        parts.append(render.format_table(("WHEN", "FROM", "TO", "REASON"), trail))
    return "\n\n".join(parts)


def _show_head(view: dict[str, Any]) -> str:
    outcome = f" ({view['outcome']})" if view.get("outcome") else ""
    cancel = " - cancel requested" if view.get("cancel_requested") else ""
    raw_usage = view.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    if not (usage.get("tokens") or usage.get("cost")):
        usage = {**usage, **view["task_usage"]}  # the engine has not summed it up yet
    end = view.get("end")
    return render.format_kv(
        [
            ("mission", view["id"]),
            ("name", view["name"]),
            ("state", f"{view['state']}{outcome}{cancel}"),
            ("created", f"{view['created']} ({render.format_age(view['age'])} ago)"),
            ("tasks", _task_summary(view["task_counts"])),
            ("spend", _spend(usage, view.get("budget"))),
            # why a completed mission ended, in words (a budget stop with its figure)
            *([("ended", str(end["text"]))] if end else []),
            ("path", view["path"]),
            # why a mission ended without running (e.g. it did not validate)
            *([("error", view["error"])] if view.get("error") else []),
        ]
    )


# The task counts `houston show` names, in this order, when not zero.
_LISTED = (
    TaskState.SUCCEEDED,
    TaskState.FAILED,
    TaskState.RUNNING,
    TaskState.PENDING,
    TaskState.CANCELLED,
    TaskState.SKIPPED,
)


def _task_summary(counts: dict[str, int]) -> str:
    listed = ", ".join(f"{counts[s]} {s}" for s in _LISTED if counts.get(s))
    return f"{counts['total']} total: {listed}" if listed else f"{counts['total']} total"


def _spend(usage: dict[str, Any], budget: Any) -> str:
    tokens, cost = usage.get("tokens"), usage.get("cost")
    text = f"{render.format_tokens(tokens)} tokens, {render.format_cost(cost)}"
    wall = usage.get("wall_time")
    if isinstance(wall, int | float) and wall:
        text += f", {render.format_duration(float(wall))} wall time"
    if isinstance(budget, dict):
        limits = [f"{k}={_limit(k, v)}" for k, v in sorted(budget.items()) if v is not None]
        if limits:
            text += f" (budget: {', '.join(limits)})"
    return text


def _limit(key: str, value: Any) -> str:
    """A budget limit as people write it: the wall time as a duration (the detail holds
    seconds: `10m` is 600.0), the rest as given."""
    if key == "max_wall_time" and isinstance(value, int | float):
        return render.format_duration(float(value))
    return str(value)


def _task_row(task: dict[str, Any]) -> tuple[Any, ...]:
    usage = task.get("usage") or {}
    attempt = f"{task['attempt']}" + (f" of {task['attempts']}" if task["attempts"] > 1 else "")
    return (
        task["id"] + (" (init)" if task.get("initializer") else ""),
        task["agent"] or None,
        task["state"],
        attempt if task["attempt"] else None,
        render.format_duration(task.get("duration")),
        render.format_tokens(usage.get("tokens")) if usage.get("tokens") else None,
        render.format_cost(usage.get("cost")) if usage.get("cost") else None,
        render.truncate(task.get("error"), 60),
    )


@click.command()
@click.argument("mission_id", metavar="ID")
@click.argument("task", required=False)
@click.pass_context
def approve(ctx: click.Context, mission_id: str, task: str | None) -> None:
    """Approve a gated mission waiting in PLANNING (it moves to COMMITTED), or with TASK
    a task waiting at its gate inside a running mission (it starts)."""
    from houston import actions

    if task is not None:
        ref = actions.decide_task(_store(ctx), mission_id, task, "approved")
        render.emit(f"approved task {task} of {ref.id}: it starts now")
        return
    ref = actions.approve(_store(ctx), mission_id)
    render.emit(f"approved {ref.id} -> {ref.state.value}")


@click.command()
@click.argument("mission_id", metavar="ID")
@click.argument("task", required=False)
@click.pass_context
def reject(ctx: click.Context, mission_id: str, task: str | None) -> None:
    """Reject a mission waiting in PLANNING (it moves to COMPLETED, cancelled), or with
    TASK a task waiting at its gate (it fails with error `rejected`)."""
    from houston import actions

    if task is not None:
        ref = actions.decide_task(_store(ctx), mission_id, task, "rejected")
        render.emit(f"rejected task {task} of {ref.id}: it fails")
        return
    ref = actions.reject(_store(ctx), mission_id)
    render.emit(f"rejected {ref.id} -> {ref.state.value}")


@click.command()
@click.argument("mission_id", metavar="ID")
@click.pass_context
def cancel(ctx: click.Context, mission_id: str) -> None:
    """Cancel a mission that has not finished (a running one is stopped by its engine)."""
    from houston import actions

    result = actions.cancel(_store(ctx), mission_id)
    if result.requested:
        render.emit(f"cancel requested for {result.ref.id}: its engine will stop it")
    else:
        render.emit(f"cancelled {result.ref.id} -> {result.ref.state.value}")
