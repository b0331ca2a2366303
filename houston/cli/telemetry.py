"""`houston events` (print or follow the event log) and `houston gc` (retention).

`gc --keep 30d` deletes event segments last written before the cut-off and COMPLETED
missions that finished before it (houston.home.gc does the removing), then the leftovers
of interrupted writes and the worktrees whose work is on a branch.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import click

from houston.core.lifecycle import MissionState
from houston.core.timestamps import parse_age
from houston.home.events import EventLog, EventTail
from houston.home.gc import collect
from houston.home.layout import Home
from houston.home.logwatch import LogWatcher
from houston.home.store import MissionStore

RECONCILE_SECONDS = 1.0


def format_event(event: dict[str, Any]) -> str:
    """Pure: one event as one human line."""
    stamp = datetime.fromtimestamp(float(event.get("ts") or 0), UTC).strftime("%H:%M:%S.%f")
    where = "/".join(str(p) for p in (event.get("mission"), event.get("task")) if p)
    attempt = f"#{event['attempt']}" if event.get("attempt") is not None else ""
    data = json.dumps(event.get("data") or {}, ensure_ascii=False, separators=(",", ":"))
    return f"{event['id']:>10} {stamp[:-3]} {event.get('type', '?'):<13} {where}{attempt} {data}"


def _emit(event: dict[str, Any], mission: str | None, as_json: bool) -> None:
    if mission is not None and event.get("mission") != mission:
        return
    click.echo(json.dumps(event, ensure_ascii=False) if as_json else format_event(event))


@click.command()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--mission", metavar="ID", help="Only the events of this mission.")
@click.option("--since", metavar="ID", type=int, default=-1, help="Only events after this id.")
@click.pass_obj
def events(obj: Any, follow: bool, as_json: bool, mission: str | None, since: int) -> None:
    """Print the event log (ids are resumable: pass the last one to --since)."""
    home: Home = obj.home.require()
    if mission is not None:
        mission = MissionStore(home).resolve(mission).id
    log = EventLog(home.events)
    tail = EventTail(log, since)
    for event in _drain(tail):
        _emit(event, mission, as_json)
    if follow:
        with contextlib.suppress(KeyboardInterrupt):
            _follow(log, tail, mission, as_json)


def _drain(tail: EventTail) -> Any:
    while batch := tail.poll(limit=1000):
        yield from batch


def _follow(log: EventLog, tail: EventTail, mission: str | None, as_json: bool) -> None:
    wake = threading.Event()
    watcher = LogWatcher(log.folder, wake.set)
    watcher.start()
    try:
        while True:
            wake.wait(RECONCILE_SECONDS)  # inotify wakes us; the timeout reconciles
            wake.clear()
            for event in _drain(tail):
                _emit(event, mission, as_json)
    finally:
        watcher.stop()


@click.command()
@click.option("--keep", default="30d", show_default=True, help="Keep what is younger than this.")
@click.option("--max-event-bytes", type=int, default=None, help="Also cap the event log size.")
@click.option("--dry-run", is_flag=True, help="Say what would go, delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def gc(obj: Any, keep: str, max_event_bytes: int | None, dry_run: bool, as_json: bool) -> None:
    """Prune event segments and COMPLETED missions older than --keep, and their worktrees
    once their work is committed on a branch."""
    home: Home = obj.home.require()
    collected = collect(
        MissionStore(home),
        now=time.time(),
        keep_seconds=parse_age(keep),
        max_event_bytes=max_event_bytes,
        dry_run=dry_run,
    )
    from houston.engine.leftovers import remove_leftovers

    leftovers = [item["path"] for item in remove_leftovers(home, dry_run=dry_run)]
    trees = _gc_worktrees(home, set(collected.missions), dry_run)
    report = {
        "dry_run": dry_run,
        "missions": collected.missions,
        "event_segments": collected.event_segments,
        "worktrees": trees.removed,
        "worktrees_kept": trees.kept,
        "leftovers": leftovers,
    }
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print_gc_report(report)


def _print_gc_report(report: dict[str, Any]) -> None:
    verb = "would remove" if report["dry_run"] else "removed"
    click.echo(
        f"{verb} {len(report['missions'])} completed mission(s), "
        f"{len(report['event_segments'])} event segment(s), "
        f"{len(report['worktrees'])} worktree(s), {len(report['leftovers'])} leftover "
        "file(s) of interrupted writes"
    )
    for path in report["leftovers"]:
        click.echo(f"  {path}")
    for path, why in report["worktrees_kept"].items():
        click.echo(f"kept worktree {path}: {why}")


def _gc_worktrees(home: Home, finished: set[str], dry_run: bool) -> Any:
    """Worktrees of the missions gc removes (or that are gone), once their work is on a
    branch (houston.workspaces.worktree_gc)."""
    from houston.workspaces.worktree_gc import Sweep, candidates, remove_worktrees

    root = home.worktrees
    if not root.is_dir():
        return Sweep()
    known = {ref.id for ref in MissionStore(home).list(tuple(MissionState), limit=10**9)}
    return remove_worktrees(candidates(root, finished, known - finished), dry_run)
