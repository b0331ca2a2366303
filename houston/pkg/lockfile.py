"""`houston.lock`: what is installed, at which version, with which digest, from where.

JSON, written atomically, only while the packages lock (`run/locks/packages.lock`) is held:
{"lockfile_version": 1,
 "requested": {"<name>": "<range>"},              # what the user asked for (the roots)
 "packages": {"<name>": {"version", "sha256",     # sha256 = canonical tree digest
                         "archive_sha256",         # digest of the .tar.gz it came from
                         "source", "dependencies": ["name@range"], "installed": iso}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from houston.core.errors import StoreError
from houston.home.fsio import write_json_atomic

LOCKFILE_VERSION = 1


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    sha256: str
    archive_sha256: str
    source: str
    dependencies: tuple[str, ...] = ()
    installed: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "sha256": self.sha256,
            "archive_sha256": self.archive_sha256,
            "source": self.source,
            "dependencies": list(self.dependencies),
            "installed": self.installed,
        }


@dataclass
class Lock:
    requested: dict[str, str] = field(default_factory=dict)
    packages: dict[str, LockedPackage] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "lockfile_version": LOCKFILE_VERSION,
            "requested": dict(sorted(self.requested.items())),
            "packages": {n: p.to_json() for n, p in sorted(self.packages.items())},
        }

    @property
    def versions(self) -> dict[str, str]:
        return {name: p.version for name, p in self.packages.items()}


def read_lock(path: Path) -> Lock:
    """The lock file, or an empty Lock when there is none yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Lock()
    except (ValueError, OSError) as exc:
        raise StoreError(
            f"houston.lock is unreadable: {exc}",
            where=str(path),
            fix="reinstall the packages (`houston package install`) to rewrite it",
        ) from exc
    try:
        packages = {
            name: LockedPackage(
                name=name,
                version=str(entry["version"]),
                sha256=str(entry["sha256"]),
                archive_sha256=str(entry.get("archive_sha256", "")),
                source=str(entry.get("source", "")),
                dependencies=tuple(entry.get("dependencies", [])),
                installed=str(entry.get("installed", "")),
            )
            for name, entry in data.get("packages", {}).items()
        }
        return Lock(requested=dict(data.get("requested", {})), packages=packages)
    except (KeyError, TypeError, AttributeError) as exc:
        raise StoreError(
            f"houston.lock has an unexpected shape: {exc}",
            where=str(path),
            fix="reinstall the packages to rewrite it",
        ) from exc


def write_lock(path: Path, lock: Lock) -> None:
    write_json_atomic(path, lock.to_json())
