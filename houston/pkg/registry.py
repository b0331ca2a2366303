"""Registries: where `name@range` is looked up, offline.

In precedence order: `<home>/registry`, every folder of `HOUSTON_REGISTRY` (separated by
`os.pathsep`), then the built-in registry of bundled packages (`houston/_bundled` inside a
wheel, the repo's `packages/` in a checkout). A registry folder may hold
`<name>-<version>.tar.gz` files (each with its `.sha256`) and package folders. The first
registry that has a given name@version wins. `RegistryIndex` implements the resolver's
`Index`; manifests are read lazily, and an archive's digest is checked before its
package.yaml is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import houston
from houston.core.errors import HoustonError, PackageError
from houston.pkg import archive
from houston.pkg.manifest import MANIFEST_FILE, PackageManifest, load_manifest, read_manifest
from houston.pkg.resolve import Candidate
from houston.pkg.versions import is_valid_name, is_valid_version

ARCHIVE_SUFFIX = ".tar.gz"


def bundled_dir() -> Path:
    """The built-in registry: packaged in the wheel, or the checkout's packages/."""
    inside_wheel = Path(houston.__file__).parent / "_bundled"
    if inside_wheel.is_dir():
        return inside_wheel
    return Path(houston.__file__).parent.parent / "packages"


def registry_dirs(home_registry: Path, environ: Mapping[str, str] | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    extra = [Path(p).expanduser() for p in env.get("HOUSTON_REGISTRY", "").split(os.pathsep) if p]
    return [home_registry, *extra, bundled_dir()]


def split_archive_name(filename: str) -> tuple[str, str] | None:
    """`core-workflow-2.1.0.tar.gz` -> ("core-workflow", "2.1.0"); None if it is not one."""
    if not filename.endswith(ARCHIVE_SUFFIX):
        return None
    stem = filename[: -len(ARCHIVE_SUFFIX)]
    for index, char in enumerate(stem):
        if char == "-" and is_valid_name(stem[:index]) and is_valid_version(stem[index + 1 :]):
            return stem[:index], stem[index + 1 :]
    return None


@dataclass
class Published:
    """One name@version in one registry: an archive, or a package folder."""

    name: str
    version: str
    path: Path
    is_archive: bool
    manifest: PackageManifest | None = None

    @classmethod
    def from_archive(cls, path: Path, limits: archive.Limits) -> Published:
        """An archive named on the command line: its own package.yaml says what it is."""
        archive.check_digest(path, limits)
        text = archive.read_member(path, MANIFEST_FILE, limits)
        manifest = load_manifest(text, f"{path}!{MANIFEST_FILE}")
        return cls(manifest.name, manifest.version, path, True, manifest)

    @property
    def label(self) -> str:
        return f"{'archive' if self.is_archive else 'folder'}:{self.path}"

    def load(self, limits: archive.Limits) -> PackageManifest:
        if self.manifest is None:
            if self.is_archive:
                archive.check_digest(self.path, limits)
                text = archive.read_member(self.path, MANIFEST_FILE, limits)
                self.manifest = load_manifest(text, f"{self.path}!{MANIFEST_FILE}")
            else:
                self.manifest = read_manifest(self.path)
            if (self.manifest.name, self.manifest.version) != (self.name, self.version):
                raise PackageError(
                    f"its package.yaml says {self.manifest.name}@{self.manifest.version}, "
                    f"not {self.name}@{self.version}",
                    where=str(self.path),
                    fix="rename the archive or fix package.yaml, then rebuild",
                )
        return self.manifest


def scan_registry(folder: Path) -> list[Published]:
    """Everything a registry folder offers; unreadable folders are skipped, not fatal."""
    found: list[Published] = []
    if not folder.is_dir():
        return found
    for child in sorted(folder.iterdir()):
        parsed = split_archive_name(child.name)
        if parsed and child.is_file():
            found.append(Published(parsed[0], parsed[1], child, True))
        elif child.is_dir() and (child / MANIFEST_FILE).is_file():
            try:
                manifest = read_manifest(child)
            except HoustonError:
                continue  # a broken folder must not hide every other package
            found.append(Published(manifest.name, manifest.version, child, False, manifest))
    return found


@dataclass
class RegistryIndex:
    """The resolver's view of all registries together."""

    folders: list[Path]
    limits: archive.Limits = field(default_factory=archive.Limits)
    _table: dict[str, dict[str, Published]] | None = None

    @property
    def table(self) -> dict[str, dict[str, Published]]:
        if self._table is None:
            table: dict[str, dict[str, Published]] = {}
            for folder in self.folders:
                for item in scan_registry(folder):
                    table.setdefault(item.name, {}).setdefault(item.version, item)
            self._table = table
        return self._table

    def add(self, item: Published) -> None:
        """An explicit source (a folder or archive given on the command line) wins."""
        self.table.setdefault(item.name, {})[item.version] = item

    def versions(self, name: str) -> list[str]:
        return list(self.table.get(name, {}))

    def published(self, name: str, version: str) -> Published:
        try:
            return self.table[name][version]
        except KeyError:
            raise PackageError(f"{name}@{version} is in no registry") from None

    def candidate(self, name: str, version: str) -> Candidate:
        manifest = self.published(name, version).load(self.limits)
        return Candidate(name, version, manifest.requirements, manifest.engines_houston)
