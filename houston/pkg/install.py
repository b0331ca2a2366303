"""Install, remove and verify packages under `<home>/packages/<name>/<version>/`.

Every change happens under one filelock (`run/locks/packages.lock`), so concurrent
installs serialize and each one re-reads `houston.lock` after taking the lock. A tree is
extracted into `packages/.tmp/` (same filesystem) and renamed into place, so a package
folder is either absent or whole. The lock is rewritten after the trees are in place,
then trees that nothing needs any more are renamed into `packages/.trash/` and deleted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from houston import __version__
from houston.core.errors import NotFoundError, PackageError
from houston.home import fsio
from houston.home.layout import Home
from houston.pkg import archive
from houston.pkg.build import pack_bytes, tree_digest
from houston.pkg.lockfile import Lock, LockedPackage, read_lock, write_lock
from houston.pkg.manifest import read_manifest
from houston.pkg.registry import Published, RegistryIndex, registry_dirs, scan_registry
from houston.pkg.resolve import resolve
from houston.pkg.versions import (
    Requirement,
    is_valid_version,
    parse_requirement,
    require,
    satisfies,
)

LOCK_TIMEOUT = 120.0


@dataclass
class Change:
    name: str
    version: str
    action: str  # installed | unchanged | removed
    source: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "action": self.action,
            "source": self.source,
        }


@dataclass
class Report:
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> list[dict[str, str]]:
        return [c.to_json() for c in self.changes]


def packages_lock(home: Home) -> FileLock:
    home.locks.mkdir(parents=True, exist_ok=True)
    return FileLock(str(home.locks / "packages.lock"), timeout=LOCK_TIMEOUT)


def package_dir(home: Home, name: str, version: str) -> Path:
    return home.packages / name / version


def build_index(home: Home, environ: Mapping[str, str] | None = None) -> RegistryIndex:
    """All registries, then the installed trees (so what is installed stays resolvable)."""
    index = RegistryIndex(registry_dirs(home.registry, environ), archive.Limits.from_env(environ))
    for name_dir in sorted(home.packages.glob("[a-z0-9]*/")):
        for item in scan_registry(name_dir):
            index.table.setdefault(item.name, {}).setdefault(item.version, item)
    return index


def explicit_source(text: str, index: RegistryIndex) -> Requirement | None:
    """A folder or a .tar.gz on the command line: add it to the index, pin its version."""
    path = Path(text).expanduser()
    if not (path.is_dir() or text.endswith(archive_suffixes()) or os.sep in text):
        return None
    if not path.exists():
        raise NotFoundError(f"no such package folder or archive: {text}", where=str(path))
    if path.is_dir():
        manifest = read_manifest(path)
        item = Published(manifest.name, manifest.version, path, False, manifest)
    else:
        item = Published.from_archive(path, index.limits)
    index.add(item)
    return Requirement(item.name, item.version)


def clear_leftovers(home: Home) -> None:
    """Staging and trash of installs that died; safe because the packages lock is held."""
    for folder in (home.packages / ".tmp", home.packages / ".trash"):
        if folder.is_dir():
            for child in folder.iterdir():
                shutil.rmtree(child, ignore_errors=True)


def archive_suffixes() -> tuple[str, ...]:
    return (".tar.gz", ".tgz")


def install(
    home: Home,
    sources: list[str],
    *,
    prerelease: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Report:
    """Resolve `sources` together with what is already requested, then install."""
    home.ensure()
    with packages_lock(home):
        clear_leftovers(home)
        lock = read_lock(home.lockfile)
        index = build_index(home, environ)
        roots = dict(lock.requested)
        for text in sources:
            requirement = explicit_source(text, index) or require(text)
            roots[requirement.name] = requirement.range
        return _apply(home, lock, index, roots, prerelease)


def _apply(
    home: Home, lock: Lock, index: RegistryIndex, roots: dict[str, str], prerelease: bool
) -> Report:
    requirements = [Requirement(n, r) for n, r in sorted(roots.items())]
    resolution = resolve(
        requirements,
        index,
        houston_version=__version__,
        prerelease=prerelease,
        preferred=lock.versions,
    )
    report = Report()
    packages: dict[str, LockedPackage] = {}
    for name in resolution.order(index):
        version = resolution.versions[name]
        entry, action = _materialize(
            home, lock.packages.get(name), index.published(name, version), index.limits
        )
        packages[name] = entry
        report.changes.append(Change(name, version, action, entry.source))
    write_lock(home.lockfile, Lock(requested=roots, packages=packages))
    for name, old in lock.packages.items():
        if packages.get(name) is None or packages[name].version != old.version:
            report.changes.append(Change(name, old.version, "removed", old.source))
    prune(home, {n: p.version for n, p in packages.items()})
    return report


def _materialize(
    home: Home, locked: LockedPackage | None, item: Published, limits: archive.Limits
) -> tuple[LockedPackage, str]:
    target = package_dir(home, item.name, item.version)
    manifest = item.load(limits)
    deps = tuple(manifest.dependencies)
    same = locked is not None and locked.version == item.version and target.is_dir()
    if same and locked is not None and tree_digest(target) == locked.sha256:
        return locked, "unchanged"
    tmp_root = home.packages / ".tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{item.name}-", dir=tmp_root))
    try:
        archive_digest = _extract(item, staging, tmp_root, limits)
        tree = staging / "tree"
        staged = read_manifest(tree)
        if (staged.name, staged.version) != (item.name, item.version):
            raise PackageError(
                f"the archive holds {staged.name}@{staged.version}, not {item.name}@{item.version}",
                where=str(item.path),
            )
        digest = tree_digest(tree)
        _make_read_only(tree)
        _place(home, tree, target, digest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = LockedPackage(item.name, item.version, digest, archive_digest, item.label, deps, now)
    return entry, "installed"


def _extract(item: Published, staging: Path, tmp_root: Path, limits: archive.Limits) -> str:
    tree = staging / "tree"
    tree.mkdir()
    if item.is_archive:
        digest = archive.check_digest(item.path, limits)
        archive.extract_verified(item.path, tree, limits)
        return digest
    data = pack_bytes(item.path)  # a folder goes through the same validated path
    packed = staging / "source.tar.gz"
    fsio.write_new(packed, data, durable=False)  # a full disk names this path
    archive.extract_verified(packed, tree, limits)
    return hashlib.sha256(data).hexdigest()


def _make_read_only(tree: Path) -> None:
    for path in tree.rglob("*"):
        if path.is_file():
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _place(home: Home, tree: Path, target: Path, digest: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        if tree_digest(target) == digest:
            return  # same content already in place (an earlier, interrupted install)
        _trash(home, target)
    os.rename(tree, target)


def _trash(home: Home, path: Path) -> None:
    """Rename aside first (one atomic step), then delete at leisure."""
    trash = home.packages / ".trash"
    trash.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=f"{path.parent.name}-{path.name}-", dir=trash))
    os.rename(path, aside / "tree")
    shutil.rmtree(aside, ignore_errors=True)


def prune(home: Home, keep: Mapping[str, str]) -> None:
    """Delete installed trees that the lock no longer lists."""
    for name_dir in sorted(home.packages.glob("[a-z0-9]*/")):
        # Only <name>/<version>/ trees are ours: other folders (local agents) are left alone.
        versions = [p for p in name_dir.iterdir() if p.is_dir() and is_valid_version(p.name)]
        for version_dir in sorted(versions):
            if keep.get(name_dir.name) != version_dir.name:
                _trash(home, version_dir)
        if not any(name_dir.iterdir()):
            name_dir.rmdir()


def remove(home: Home, names: list[str]) -> Report:
    """Forget requested packages; refuse one that another package still needs."""
    home.require()
    with packages_lock(home):
        lock = read_lock(home.lockfile)
        for name in names:
            if name not in lock.packages:
                raise NotFoundError(
                    f"package {name!r} is not installed", fix="see `houston package list`"
                )
        roots = {n: r for n, r in lock.requested.items() if n not in names}
        needed = _reachable(lock, roots)
        for name in names:
            if name in needed:
                raise PackageError(
                    f"cannot remove {name!r}: it is still needed",
                    where=" -> ".join(needed[name]),
                    fix="remove the packages that depend on it first",
                )
        keep = {n: p for n, p in lock.packages.items() if n in needed}
        write_lock(home.lockfile, Lock(requested=roots, packages=keep))
        prune(home, {n: p.version for n, p in keep.items()})
        return Report(
            [
                Change(n, p.version, "removed", p.source)
                for n, p in lock.packages.items()
                if n not in keep
            ]
        )


def _reachable(lock: Lock, roots: Mapping[str, str]) -> dict[str, list[str]]:
    """name -> the chain that needs it, following the locked dependencies."""
    chains: dict[str, list[str]] = {}
    stack = [(name, [name]) for name in sorted(roots)]
    while stack:
        name, chain = stack.pop()
        if name in chains or name not in lock.packages:
            continue
        chains[name] = chain
        for dep in lock.packages[name].dependencies:
            stack.append((parse_requirement(dep).name, [*chain, dep]))
    return chains


def verify(home: Home) -> list[dict[str, str]]:
    """Recompute every installed tree digest; one problem dict per mismatch."""
    home.require()
    problems: list[dict[str, str]] = []
    lock = read_lock(home.lockfile)
    for name, entry in sorted(lock.packages.items()):
        target = package_dir(home, name, entry.version)
        if not target.is_dir():
            problems.append({"name": name, "version": entry.version, "problem": "missing"})
        elif tree_digest(target) != entry.sha256:
            problems.append({"name": name, "version": entry.version, "problem": "modified"})
    return problems


def ensure_requirements(
    home: Home, requires: list[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Make a mission's `requires:` installed, offline; return name -> version in use.

    Fast path without any lock when the installed packages already satisfy every range.
    """
    wanted = [require(text) for text in requires]
    lock = read_lock(home.lockfile)
    chosen = {
        r.name: lock.packages[r.name].version
        for r in wanted
        if r.name in lock.packages and satisfies(lock.packages[r.name].version, r.range)
    }
    if len(chosen) < len(wanted):
        install(home, [str(r) for r in wanted if r.name not in chosen], environ=environ)
        lock = read_lock(home.lockfile)
        chosen = {r.name: lock.packages[r.name].version for r in wanted}
    return chosen
