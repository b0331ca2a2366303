"""`houston doctor`: check this machine and the home, one line per finding, with the fix.

The judging is pure (a value in, a `Finding` out) and so is the report; the gatherers at
the bottom read the machine and the home. `doctor` never writes anything: it only says
what to run. Exit 0 when nothing fails (warnings allowed), 1 when a check fails.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import click

from houston.cli import render
from houston.core.errors import EXIT_MISSION_FAILED, HoustonError
from houston.core.lifecycle import MissionState
from houston.home.engine_record import RunningEngine
from houston.home.layout import Home

Level = Literal["ok", "warn", "fail"]

MIN_PYTHON = (3, 11)
# Distributions whose import name is not their own name folded to an identifier.
IMPORT_NAMES = {"markdown-it-py": "markdown_it", "pyyaml": "yaml"}
INOTIFY_WATCHES = Path("/proc/sys/fs/inotify/max_user_watches")
# Editors and file sync share the per-user watch budget; 8192 (old kernels) runs out.
LOW_WATCHES = 65536
LOW_DISK = 1 << 30
FULL_DISK = 100 << 20


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    detail: str
    fix: str = ""


# -- pure: judge values, build the report ------------------------------------------------


def judge_python(version: tuple[int, ...]) -> Finding:
    text = ".".join(map(str, version[:3]))
    if tuple(version[:2]) >= MIN_PYTHON:
        return Finding("python", "ok", text)
    return Finding(
        "python",
        "fail",
        f"{text} is older than 3.11",
        "install Python 3.11 or newer and reinstall Houston with it",
    )


def import_name(requirement: str) -> str:
    """`sse-starlette>=2.1` -> `sse_starlette`: the module a declared dependency provides."""
    dist = re.split(r"[<>=!~ ;\[(]", requirement.strip(), maxsplit=1)[0].lower()
    return IMPORT_NAMES.get(dist, dist.replace("-", "_").replace(".", "_"))


def judge_imports(declared: list[str] | None, errors: dict[str, str]) -> Finding:
    """`declared` are the requirements Houston was installed with (None: not installed);
    `errors` maps each one that did not import to the error it raised."""
    if declared is None:
        return Finding(
            "dependencies",
            "fail",
            "houston is not installed as a package here",
            "pip install houston (pip install -e . in a checkout)",
        )
    if not errors:
        return Finding("dependencies", "ok", f"all {len(declared)} declared dependencies import")
    names = ", ".join(f"{req} ({error})" for req, error in sorted(errors.items()))
    quoted = " ".join(f"'{req}'" for req in sorted(errors))
    return Finding(
        "dependencies",
        "fail",
        f"cannot import {names}",
        f"pip install {quoted} (or reinstall Houston: pip install -e . in a checkout)",
    )


def judge_inotify(watches: int | None) -> Finding:
    if watches is None:
        return Finding("inotify", "ok", "no inotify here: file events come from the platform")
    if watches >= LOW_WATCHES:
        return Finding("inotify", "ok", f"max_user_watches = {watches}")
    return Finding(
        "inotify",
        "warn",
        f"max_user_watches = {watches} is low: engines fall back to polling",
        "sudo sysctl fs.inotify.max_user_watches=524288 (persist it in /etc/sysctl.d/)",
    )


def judge_disk(free: int, where: Path) -> Finding:
    text = f"{free / (1 << 30):.1f} GiB free on {where}"
    if free >= LOW_DISK:
        return Finding("disk", "ok", text)
    level: Level = "fail" if free < FULL_DISK else "warn"
    return Finding(
        "disk",
        level,
        text,
        "free some space, prune old missions with `houston gc`, or move the home with --home",
    )


def judge_engine(path: Path, record: RunningEngine | None, alive: bool) -> Finding:
    if record is None:
        return Finding(
            "engine", "warn", f"{path} is unreadable", f"no engine uses it: delete it (rm {path})"
        )
    text = f"pid {record.pid} since {record.since}, {record.workers} workers"
    if alive:
        return Finding("engine", "ok", f"running: {text}")
    return Finding(
        "engine",
        "warn",
        f"dead leftover: {text} ({path.name})",
        "`houston recover` requeues what it left and removes the record",
    )


def judge_orphans(mission_ids: list[str]) -> Finding:
    if not mission_ids:
        return Finding("executing", "ok", "no mission is left behind by a dead engine")
    shown = ", ".join(mission_ids[:3]) + (", ..." if len(mission_ids) > 3 else "")
    return Finding(
        "executing",
        "warn",
        f"{len(mission_ids)} mission(s) in EXECUTING with a dead engine: {shown}",
        "`houston recover` requeues them; `houston serve` finishes them",
    )


def judge_packages(count: int, problems: list[dict[str, str]]) -> Finding:
    if not problems:
        text = f"{count} installed, all match houston.lock" if count else "none installed"
        return Finding("packages", "ok", text)
    names = ", ".join(f"{p['name']}@{p['version']} {p['problem']}" for p in problems)
    return Finding(
        "packages",
        "fail",
        f"differ from houston.lock: {names}",
        "reinstall them with `houston package install NAME`",
    )


def judge_local_model(missing: list[str]) -> Finding:
    """The embedded model (base URL `local`) is optional: missing is a warning."""
    if not missing:
        return Finding(
            "local model",
            "ok",
            "llama.cpp server and Gemma 3 270M installed: base URL `local` works",
        )
    return Finding(
        "local model",
        "warn",
        f"base URL `local` unavailable: {', '.join(missing)} not installed",
        "pip install 'houston[local]' (for offline llm agents; optional)",
    )


def exit_code(findings: list[Finding]) -> int:
    return EXIT_MISSION_FAILED if any(f.level == "fail" for f in findings) else 0


def format_report(findings: list[Finding]) -> str:
    width = max((len(f.check) for f in findings), default=0)
    lines = []
    for f in findings:
        lines.append(f"{f.level:<4}  {f.check:<{width}}  {f.detail}")
        if f.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {f.fix}")
    warns = sum(f.level == "warn" for f in findings)
    fails = sum(f.level == "fail" for f in findings)
    lines.append(f"{fails} failed, {warns} warning(s)" if warns or fails else "all good")
    return "\n".join(lines)


# -- I/O: read the machine and the home --------------------------------------------------


def declared_dependencies() -> list[str] | None:
    """The requirements in Houston's installed metadata, without extras' ones."""
    try:
        requires = importlib.metadata.requires("houston") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    return [req.split(";")[0].strip() for req in requires if "extra ==" not in req]


def check_dependencies() -> Finding:
    declared = declared_dependencies()
    errors: dict[str, str] = {}
    for requirement in declared or []:
        try:
            importlib.import_module(import_name(requirement))
        except Exception as exc:  # any import failure is the finding itself
            errors[requirement] = f"{type(exc).__name__}: {exc}"
    return judge_imports(declared, errors)


def check_machine() -> list[Finding]:
    try:
        watches: int | None = int(INOTIFY_WATCHES.read_text())
    except (OSError, ValueError):
        watches = None
    from houston.engine.localmodel import missing_modules

    return [
        judge_python(sys.version_info[:3]),
        check_dependencies(),
        judge_inotify(watches),
        judge_local_model(missing_modules()),
    ]


def check_home(home: Home) -> list[Finding]:
    where = next(p for p in (home.root, *home.root.parents) if p.exists())
    disk = judge_disk(shutil.disk_usage(where).free, where)
    if not home.exists():
        return [_missing_home(home), disk]
    try:
        home.check_one_device([home.state_dir(s) for s in MissionState])
        layout = Finding("home", "ok", f"{home.root}, missions/ on one device")
    except HoustonError as exc:
        layout = Finding("home", "fail", f"{exc.what}: {exc.where}", exc.fix)
    return [layout, disk, *_engines(home), _orphans(home), _packages(home)]


def _missing_home(home: Home) -> Finding:
    if home.root.exists() and not home.root.is_dir():
        return Finding(
            "home",
            "fail",
            f"{home.root} is not a folder",
            "point --home or HOUSTON_HOME at a folder",
        )
    what = "has an incomplete layout" if home.root.exists() else "does not exist yet"
    return Finding(
        "home",
        "warn",
        f"{home.root} {what}",
        "`houston init` creates it (so does the first `houston run`)",
    )


def _engines(home: Home) -> list[Finding]:
    from houston.engine.recovery import engine_records

    found = [judge_engine(path, record, alive) for path, record, alive in engine_records(home)]
    return found or [Finding("engine", "ok", "none running")]


def _orphans(home: Home) -> Finding:
    from houston.engine.recovery import engine_alive
    from houston.home.store import MissionStore

    executing = sorted(MissionStore(home).ids_in(MissionState.EXECUTING))
    state_dir = home.state_dir(MissionState.EXECUTING)
    return judge_orphans([m for m in executing if not engine_alive(state_dir / m)])


def _packages(home: Home) -> Finding:
    try:
        from houston.pkg.install import verify
        from houston.pkg.lockfile import read_lock
    except ImportError as exc:  # a missing dependency: the dependencies check says which
        return Finding(
            "packages",
            "fail",
            f"cannot check packages: {exc}",
            "fix the dependencies first (see above)",
        )
    try:
        return judge_packages(len(read_lock(home.lockfile).packages), verify(home))
    except HoustonError as exc:
        return Finding("packages", "fail", exc.what, exc.fix)


class ChecksFailed(HoustonError):
    """At least one check failed; the report above says what to do."""

    exit_code = EXIT_MISSION_FAILED


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check Python, dependencies, inotify, disk, engines, missions and packages."""
    from houston.cli.missions import _home

    findings = [*check_machine(), *check_home(_home(ctx))]
    failed = [f.check for f in findings if f.level == "fail"]
    if as_json:
        render.emit_json({"ok": not failed, "checks": [asdict(f) for f in findings]})
    else:
        render.emit(format_report(findings))
    if exit_code(findings):
        # ctx.exit() would be swallowed: main() runs click with standalone_mode=False.
        raise ChecksFailed(
            f"{len(failed)} check(s) failed: {', '.join(failed)}",
            fix="apply the fix printed under each failed check",
        )
