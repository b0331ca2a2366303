"""Helpers shared by the package tests: run the CLI in-process, write packages and archives."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from houston.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """`houston ARGS` in-process, with the exit-code mapping of the real entry point."""
    runner = CliRunner()
    code = 0
    with runner.isolation(env=env) as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


def manifest_text(
    name: str,
    version: str,
    deps: list[str] | None = None,
    engines: str | None = None,
    agents: list[str] | None = None,
) -> str:
    lines = [f"name: {name}", f"version: {version}", f"description: {name} for tests"]
    if engines:
        lines += ["engines:", f'  houston: "{engines}"']
    if deps:
        lines += ["dependencies:", *(f'  - "{d}"' for d in deps)]
    if agents:
        lines += ["agents:", *(f"  - {a}" for a in agents)]
    return "\n".join(lines) + "\n"


def make_package(
    root: Path, name: str, version: str, deps: list[str] | None = None, engines: str | None = None
) -> Path:
    folder = root / f"{name}-{version}"
    (folder / "agents").mkdir(parents=True)
    (folder / "package.yaml").write_text(manifest_text(name, version, deps, engines, ["hello"]))
    (folder / "agents" / "hello.md").write_text(
        "---\nname: hello\ndescription: Says hello.\n---\nSay hello.\n"
    )
    (folder / "README.md").write_text(f"# {name}\n")
    return folder


def write_sha256(archive: Path, digest: str | None = None) -> None:
    digest = digest or hashlib.sha256(archive.read_bytes()).hexdigest()
    archive.with_name(archive.name + ".sha256").write_text(f"{digest}  {archive.name}\n")


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def make_tar(
    path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], sha256: bool = True
) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(raw.getvalue())
    if sha256:
        write_sha256(path)
    return path


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> set[str]:
    """Every path under `root` (relative), except those under the `skip` prefixes."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in [*dirnames, *filenames]:
            rel = os.path.relpath(os.path.join(dirpath, entry), root)
            if not rel.startswith(skip):
                found.add(rel)
    return found
