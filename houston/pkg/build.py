"""`houston package build`: a package folder -> a reproducible `<name>-<version>.tar.gz`.

Also owns the canonical tree digest that `houston.lock` records and `package verify`
recomputes. The archive is reproducible (sorted members, zeroed owners and times, a gzip
header without a timestamp), so the same folder always gives the same sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from houston.core.errors import PackageError
from houston.home.fsio import write_bytes_atomic

# Never packed: build litter and version control.
IGNORED_NAMES = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".DS_Store",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
    }
)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp")


@dataclass(frozen=True)
class TreeEntry:
    path: str  # posix, relative to the package root
    is_dir: bool
    executable: bool = False


def walk_tree(root: Path) -> list[TreeEntry]:
    """Every folder and regular file under `root`, sorted; links and devices are refused."""
    if not root.is_dir():
        raise PackageError("not a folder", where=str(root))
    entries: list[TreeEntry] = []
    _walk(root, root, entries)
    return sorted(entries, key=lambda e: e.path)


def _walk(root: Path, folder: Path, entries: list[TreeEntry]) -> None:
    for child in sorted(folder.iterdir()):
        if child.name in IGNORED_NAMES or child.name.endswith(IGNORED_SUFFIXES):
            continue
        mode = child.lstat().st_mode
        rel = child.relative_to(root).as_posix()
        if stat.S_ISDIR(mode):
            entries.append(TreeEntry(rel, True))
            _walk(root, child, entries)
        elif stat.S_ISREG(mode):
            entries.append(TreeEntry(rel, False, bool(mode & stat.S_IXUSR)))
        else:
            raise PackageError(
                "only regular files and folders can be packaged (found a link or device)",
                where=str(child),
                fix="replace the link with a copy of its target",
            )


def tree_digest(root: Path) -> str:
    """sha256 of a canonical listing: one `kind path mode sha256` line per entry."""
    listing = hashlib.sha256()
    for entry in walk_tree(root):
        if entry.is_dir:
            line = f"d {entry.path}\n"
        else:
            content = hashlib.sha256((root / entry.path).read_bytes()).hexdigest()
            line = f"f {entry.path} {'x' if entry.executable else '-'} {content}\n"
        listing.update(line.encode("utf-8"))
    return listing.hexdigest()


def _tarinfo(entry: TreeEntry, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.path)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.is_dir:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = size
        info.mode = 0o755 if entry.executable else 0o644
    return info


def pack_bytes(root: Path) -> bytes:
    """The .tar.gz of `root` as bytes, byte-for-byte reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in walk_tree(root):
            if entry.is_dir:
                tar.addfile(_tarinfo(entry, 0))
            else:
                data = (root / entry.path).read_bytes()
                tar.addfile(_tarinfo(entry, len(data)), io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def archive_name(name: str, version: str) -> str:
    return f"{name}-{version}.tar.gz"


def write_archive(data: bytes, out_dir: Path, name: str, version: str) -> tuple[Path, str]:
    """Write `<name>-<version>.tar.gz` and its `.sha256` (sha256sum format) atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / archive_name(name, version)
    digest = hashlib.sha256(data).hexdigest()
    write_bytes_atomic(target, data)
    write_bytes_atomic(
        target.with_name(target.name + ".sha256"), f"{digest}  {target.name}\n".encode("ascii")
    )
    return target, digest


def publish_archive(data: bytes, registry: Path, name: str, version: str) -> tuple[Path, str]:
    """Put an archive into a registry folder; a published version is never replaced.

    The same bytes again are a no-op; different bytes under a published name@version are
    refused, because whoever installed that version trusts its digest. The `.sha256` is
    written only once the archive in place is known to hold these bytes, so a lost race
    never leaves a digest that contradicts its archive.
    """
    target = registry / archive_name(name, version)
    digest = hashlib.sha256(data).hexdigest()
    _refuse_different(target, digest)
    registry.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = registry / f".{target.name}.{os.getpid()}.tmp"
        try:
            write_bytes_atomic(tmp, data)
            os.link(tmp, target)  # unlike a rename, never replaces what a racing publish put
        except FileExistsError:
            _refuse_different(target, digest)
        finally:
            tmp.unlink(missing_ok=True)
    line = f"{digest}  {target.name}\n".encode("ascii")
    sums = target.with_name(target.name + ".sha256")
    if not sums.is_file() or sums.read_bytes() != line:  # also repairs a publish cut short
        write_bytes_atomic(sums, line)
    return target, digest


def _refuse_different(target: Path, digest: str) -> None:
    if not target.exists():
        return
    if hashlib.sha256(target.read_bytes()).hexdigest() != digest:
        raise PackageError(
            "a different archive with this name and version is already published",
            where=str(target),
            fix="bump the version in package.yaml",
        )
