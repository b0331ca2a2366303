"""`houston package ...`: build, publish, install, remove, list, inspect and verify packages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import click

from houston.core.errors import PackageError


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def _home(ctx: click.Context) -> Any:
    return ctx.find_root().obj.home


@click.group("package")
def package() -> None:
    """Build, install and inspect packages (folders, .tar.gz + .sha256, or name@range)."""


@package.command("install")
@click.argument("sources", nargs=-1, required=True, metavar="SRC|NAME@RANGE...")
@click.option("--prerelease", is_flag=True, help="Let ranges match prerelease versions.")
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@click.pass_context
def install_cmd(
    ctx: click.Context, sources: tuple[str, ...], prerelease: bool, as_json: bool
) -> None:
    """Install packages and their dependencies from folders, archives or registries."""
    from houston.pkg.install import install

    report = install(_home(ctx), list(sources), prerelease=prerelease)
    _print_report(report.to_json(), as_json)


@package.command("remove")
@click.argument("names", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@click.pass_context
def remove_cmd(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Remove installed packages that nothing else needs."""
    from houston.pkg.install import remove

    report = remove(_home(ctx), list(names))
    _print_report(report.to_json(), as_json)


def _print_report(changes: list[dict[str, str]], as_json: bool) -> None:
    if as_json:
        _echo_json(changes)
        return
    for change in changes:
        click.echo(f"{change['action']:<10} {change['name']}@{change['version']}")


@package.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List installed packages (from houston.lock)."""
    from houston.pkg.info import list_installed

    home = _home(ctx)
    rows = list_installed(home) if home.root.exists() else []
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no packages installed")
    for row in rows:
        requested = f"  (requested {row['requested']})" if row["requested"] else ""
        click.echo(f"{row['name']}@{row['version']}{requested}")


@package.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def info_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a package: manifest, dependencies, workflows, local overrides, config."""
    from houston.pkg.info import package_info

    info = package_info(_home(ctx), name)
    if as_json:
        _echo_json(info)
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    click.echo(f"{info['name']}@{info['version']}  {info['description']}")
    installed = info.get("installed")
    if installed:
        click.echo(f"installed:    {installed['path']} (sha256 {installed['sha256'][:12]})")
        if installed["required_by"]:
            click.echo(f"required by:  {', '.join(installed['required_by'])}")
    else:
        click.echo(f"not installed; available: {', '.join(info.get('available', []))}")
    click.echo(f"dependencies: {', '.join(info['dependencies']) or '-'}")
    click.echo(f"agents:       {', '.join(info['agents']) or '-'}")
    local = info.get("local") or {}
    if local.get("agents"):
        click.echo(f"local agents: {', '.join(local['agents'])}")
    for name, wf in info["workflows"].items():
        if isinstance(wf, dict):
            params = wf["parameters"]
            kind = (
                "documentation only"
                if params is None
                else (
                    "params: "
                    + ", ".join(
                        p.get("name", "?") + ("*" if p.get("required") else "") for p in params
                    )
                )
            )
            state = " [disabled locally]" if wf["disabled"] else ""
            click.echo(f"workflow:     {name} ({kind}){state}")
        else:
            click.echo(f"workflow:     {name}")
    click.echo(f"patterns:     {', '.join(info['patterns']) or '-'}")
    if "effective_config" in info:
        click.echo(f"config:       {json.dumps(info['effective_config'], default=str)}")
    if local.get("exists"):
        click.echo(f"overrides:    {local['file']}")


@package.command("build")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Where the archive is written.",
)
@click.option("--json", "as_json", is_flag=True)
def build_cmd(folder: Path, out_dir: Path, as_json: bool) -> None:
    """Write <name>-<version>.tar.gz and its .sha256 from a package folder."""
    path, digest, manifest = _build(folder, out_dir)
    if as_json:
        _echo_json(
            {
                "name": manifest.name,
                "version": manifest.version,
                "archive": str(path),
                "sha256": digest,
            }
        )
    else:
        click.echo(f"{path}\nsha256 {digest}")


def _build(folder: Path, out_dir: Path) -> tuple[Path, str, Any]:
    from houston.pkg.build import pack_bytes, write_archive
    from houston.pkg.manifest import MANIFEST_FILE, check_files, read_manifest

    manifest = read_manifest(folder)
    check_files(manifest, folder, str(folder / MANIFEST_FILE))
    path, digest = write_archive(pack_bytes(folder), out_dir, manifest.name, manifest.version)
    return path, digest, manifest


@package.command("publish")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--registry",
    "registry",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Registry folder [default: <home>/registry].",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def publish_cmd(ctx: click.Context, source: Path, registry: Path | None, as_json: bool) -> None:
    """Copy a package (folder or .tar.gz + .sha256) into a registry folder."""
    target_dir = registry or _home(ctx).registry
    if source.is_dir():
        path, digest = _publish_folder(source, target_dir)
    else:
        path, digest = _publish_archive(source, target_dir)
    if as_json:
        _echo_json({"archive": str(path), "sha256": digest})
    else:
        click.echo(f"published {path.name} to {target_dir}")


def _publish_folder(folder: Path, target_dir: Path) -> tuple[Path, str]:
    from houston.pkg.build import pack_bytes, publish_archive
    from houston.pkg.manifest import MANIFEST_FILE, check_files, read_manifest

    manifest = read_manifest(folder)
    check_files(manifest, folder, str(folder / MANIFEST_FILE))
    return publish_archive(pack_bytes(folder), target_dir, manifest.name, manifest.version)


def _publish_archive(source: Path, target_dir: Path) -> tuple[Path, str]:
    from houston.pkg import archive
    from houston.pkg.build import publish_archive
    from houston.pkg.registry import split_archive_name

    parsed = split_archive_name(source.name)
    if parsed is None:
        raise PackageError(
            "an archive is published as <name>-<version>.tar.gz",
            where=str(source),
            fix="build it with `houston package build`",
        )
    archive.check_digest(source, archive.Limits.from_env())  # size cap and .sha256 first
    data = source.read_bytes()
    expected = archive.read_expected_digest(source)
    if hashlib.sha256(data).hexdigest() != expected:  # it changed since it was checked
        raise PackageError(
            "the archive changed while it was being read",
            where=str(source),
            fix="publish it again once it is written",
        )
    return publish_archive(data, target_dir, *parsed)


@package.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool) -> None:
    """Recheck every installed tree against the sha256 recorded in houston.lock."""
    from houston.pkg.install import verify

    problems = verify(_home(ctx))
    if as_json:
        _echo_json({"ok": not problems, "problems": problems})
    else:
        for problem in problems:
            click.echo(f"{problem['problem']:<9} {problem['name']}@{problem['version']}")
    if problems:
        names = ", ".join(f"{p['name']}@{p['version']}" for p in problems)
        raise PackageError(
            f"installed packages differ from houston.lock: {names}",
            fix="reinstall them with `houston package install NAME`",
        )
    if not as_json:
        click.echo("all installed packages match houston.lock")
