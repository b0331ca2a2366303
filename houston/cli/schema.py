"""`houston schema mission|package`: print the JSON Schema of a file kind, for editors.

Point an editor at the output (e.g. the YAML language server's `# yaml-language-server:
$schema=...` comment) to get completion, help texts and validation while typing.
"""

from __future__ import annotations

import json
from typing import Any

import click

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_of(kind: str) -> dict[str, Any]:
    """The JSON Schema of `mission` or `package` files."""
    if kind == "mission":
        from houston.mission import MissionSpec

        model: Any = MissionSpec
    else:
        from houston.pkg.manifest import PackageManifest

        model = PackageManifest
    return {"$schema": _DIALECT, **model.model_json_schema()}


@click.command()
@click.argument("kind", type=click.Choice(["mission", "package"]))
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the schema to FILE instead of printing it.",
)
def schema(kind: str, out: str | None) -> None:
    """Print the JSON Schema of mission.yaml (mission) or package.yaml (package)."""
    text = json.dumps(schema_of(kind), indent=2, sort_keys=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    from pathlib import Path

    from houston.core.errors import UsageError
    from houston.home.fsio import write_bytes_atomic

    try:
        write_bytes_atomic(Path(out), text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot write {out}: {exc.strerror}", fix="check that its folder exists"
        ) from exc
    click.echo(f"wrote {out}", err=True)
