"""`houston bundle create|load`: move packages, wheels and manifests to a machine without a
network (houston.pkg.bundle)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from houston.cli import render


@click.group("bundle")
def bundle() -> None:
    """Air-gapped transfer: collect on a connected machine, load on one without a network."""


@bundle.command("create")
@click.argument("requested", nargs=-1, required=True, metavar="PACKAGE@RANGE...")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=".",
    show_default=True,
    help="Folder for the tarball and its .sha256.",
)
@click.option("--no-wheels", is_flag=True, help="Leave out Houston's and its dependencies' wheels.")
@click.option("--no-manifests", is_flag=True, help="Leave out the rendered deploy/k8s overlays.")
@click.option(
    "--houston-wheel",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The Houston wheel to ship (default: built from the running sources).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def create_cmd(
    ctx: click.Context,
    requested: tuple[str, ...],
    out_dir: Path,
    no_wheels: bool,
    no_manifests: bool,
    houston_wheel: Path | None,
    as_json: bool,
) -> None:
    """Collect PACKAGE@RANGE... with their dependencies into one verified tarball."""
    from houston.pkg.bundle import create

    made = create(
        ctx.find_root().obj.home,
        list(requested),
        out_dir,
        wheels=not no_wheels,
        manifests=not no_manifests,
        houston_wheel=houston_wheel,
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "bundle": str(made.path),
                    "sha256": made.digest,
                    "packages": made.packages,
                    "files": made.files,
                },
                indent=2,
            )
        )
        return
    render.emit(f"bundle: {made.path} ({made.files} files, sha256 {made.digest})")
    for name, version in made.packages.items():
        render.emit(f"  {name}@{version}")
    render.emit(f"carry {made.path.name} and {made.path.name}.sha256 together")


@bundle.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--registry",
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy the packages into this registry folder instead of installing them.",
)
@click.option(
    "--dir",
    "into",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the bundle's files are kept [default: <home>/bundles].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def load_cmd(
    ctx: click.Context, file: Path, registry: Path | None, into: Path | None, as_json: bool
) -> None:
    """Verify FILE (every digest) and install its packages; print the pip line for its wheels."""
    from houston.pkg.bundle import load

    home = ctx.find_root().obj.home
    loaded = load(file, home if registry else home.ensure(), registry=registry, into=into)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "folder": str(loaded.folder),
                    "packages": loaded.packages,
                    "installed": loaded.installed,
                    "pip": loaded.pip_line,
                },
                indent=2,
            )
        )
        return
    render.emit(f"verified and unpacked into {loaded.folder}")
    for change in loaded.installed:
        render.emit(f"  {' '.join(str(v) for v in change.values() if v)}")
    if loaded.pip_line:
        render.emit(f"install Houston offline with:\n  {loaded.pip_line}")
