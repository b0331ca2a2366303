"""`package.yaml`: the PackageManifest model (Factor XII fields + `engines`) and its loader.

Strict like mission.yaml: unknown keys, wrong types, bad names, bad versions and ranges
are refused with file:line:column. Entries of `agents`, `workflows` and `patterns` may be
bare names (`triage` -> `agents/triage.md`) or relative paths (`agents/triage.md`);
`config` and `documentation` map a name to a relative path. `dependencies` is a list of
`name@range` (the npm-style mapping `{name: range}` is accepted too).
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from houston.core.errors import SpecError
from houston.pkg.versions import (
    NAME_PATTERN,
    Requirement,
    is_valid_range,
    is_valid_version,
    parse_requirement,
)

MANIFEST_FILE = "package.yaml"
KIND_FOLDERS = {"agents": "agents", "workflows": "workflows", "patterns": "patterns"}


def _relative_path(value: object) -> object:
    if isinstance(value, str):
        parts = value.replace("\\", "/").split("/")
        if value.startswith("/") or ".." in parts or not value.strip():
            raise ValueError(f"{value!r} must be a relative path inside the package, without '..'")
    return value


def _dependency_list(value: object) -> object:
    if isinstance(value, dict):
        return [f"{name}@{range_}" for name, range_ in value.items()]
    return value


RelPath = Annotated[str, BeforeValidator(_relative_path)]


class Engines(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    houston: str = "*"

    @field_validator("houston")
    @classmethod
    def _range(cls, value: str) -> str:
        if not is_valid_range(value):
            raise ValueError(f"{value!r} is not an npm semver range (e.g. >=0.1)")
        return value


class PackageManifest(BaseModel):
    """The contents of package.yaml."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    version: str
    description: str = ""
    author: str = ""
    license: str = ""
    engines: Engines = Field(default_factory=Engines)
    dependencies: Annotated[list[str], BeforeValidator(_dependency_list)] = Field(
        default_factory=list
    )
    agents: list[RelPath] = Field(default_factory=list)
    workflows: list[RelPath] = Field(default_factory=list)
    patterns: list[RelPath] = Field(default_factory=list)
    config: dict[str, RelPath] = Field(default_factory=dict)
    documentation: dict[str, RelPath] = Field(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not is_valid_version(value):
            raise ValueError(f"{value!r} is not a semantic version like 1.2.0")
        return value

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: list[str]) -> list[str]:
        names = [parse_requirement(item).name for item in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"listed more than once: {', '.join(twice)}")
        return value

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return tuple(parse_requirement(item) for item in self.dependencies)

    @property
    def engines_houston(self) -> str | None:
        return None if self.engines.houston == "*" else self.engines.houston

    def files(self, kind: str) -> dict[str, str]:
        """`agents`/`workflows`/`patterns` as {name: relative path}."""
        return {_entry_name(entry): entry_path(kind, entry) for entry in getattr(self, kind)}


def _entry_name(entry: str) -> str:
    return posixpath.splitext(posixpath.basename(entry))[0]


def entry_path(kind: str, entry: str) -> str:
    if "/" in entry or entry.endswith(".md"):
        return entry if "/" in entry else f"{KIND_FOLDERS[kind]}/{entry}"
    return f"{KIND_FOLDERS[kind]}/{entry}.md"


def load_manifest(text: str | bytes, source: str) -> PackageManifest:
    """Parse and validate package.yaml text; SpecError with file:line:column on failure."""
    from houston.core import yamlstrict

    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    document = yamlstrict.load(text, source)
    manifest: PackageManifest = yamlstrict.validate(PackageManifest, document)
    return manifest


def read_manifest(package_dir: Path) -> PackageManifest:
    path = package_dir / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            f"no {MANIFEST_FILE} in the package folder",
            source=str(path),
            fix="a package folder holds package.yaml at its root",
        ) from None
    return load_manifest(text, str(path))


def check_files(manifest: PackageManifest, package_dir: Path, source: str) -> None:
    """Every file the manifest names exists in the package folder."""
    wanted: list[str] = []
    for kind in KIND_FOLDERS:
        wanted.extend(manifest.files(kind).values())
    wanted.extend(manifest.config.values())
    wanted.extend(manifest.documentation.values())
    missing = [rel for rel in wanted if not (package_dir / rel).is_file()]
    if missing:
        raise SpecError(
            f"package.yaml names files that do not exist: {', '.join(missing)}",
            source=source,
            fix="add the files or remove them from package.yaml",
        )
