"""`houston tenants render DIR [--check]`: deploy/k8s's per-team overlays from teams.yaml
(houston.tenants)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from houston.cli import render
from houston.core.errors import UsageError
from houston.home.fsio import write_bytes_atomic

DEFAULT_DIR = Path("deploy/k8s/overlays/tenants")


@click.group("tenants")
def tenants() -> None:
    """The tenants overlay of deploy/k8s: one namespace per team listed in teams.yaml."""


@tenants.command("render")
@click.argument(
    "folder", required=False, type=click.Path(path_type=Path), default=DEFAULT_DIR, metavar="[DIR]"
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if the files differ from what teams.yaml renders.",
)
def render_cmd(folder: Path, check: bool) -> None:
    """Write DIR/kustomization.yaml and DIR/teams/NAME/ for each team in DIR/teams.yaml
    (default DIR: deploy/k8s/overlays/tenants); remove generated teams no longer listed."""
    from houston.tenants import GENERATED, load_teams, render_tenants, stale_teams

    source = folder / "teams.yaml"
    if not source.is_file():
        raise UsageError(
            f"no teams.yaml in {folder}",
            fix="name the tenants overlay folder (deploy/k8s/overlays/tenants)",
        )
    teams = load_teams(source.read_text(encoding="utf-8"), str(source))
    files = render_tenants(teams)
    existing = (
        sorted(p.name for p in (folder / "teams").iterdir()) if (folder / "teams").is_dir() else []
    )
    stale = [
        name
        for name in stale_teams(existing, teams)
        if _read(folder / "teams" / name / "kustomization.yaml").startswith(GENERATED)
    ]
    changed = [path for path, text in files.items() if _read(folder / path) != text]
    if check:
        for path in changed:
            render.emit(f"differs from teams.yaml: {folder / path}")
        for name in stale:
            render.emit(f"not in teams.yaml: {folder / 'teams' / name}")
        if changed or stale:
            render.emit(f"run: houston tenants render {folder}")
            sys.exit(1)
        return
    for path in changed:
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, files[path].encode())
        render.emit(f"wrote {target}")
    for name in stale:
        shutil.rmtree(folder / "teams" / name)
        render.emit(f"removed {folder / 'teams' / name} (not in teams.yaml)")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
