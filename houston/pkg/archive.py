"""Package archives (.tar.gz + .sha256): digests, member validation, safe extraction.

Order matters and is the point of this module: the digest is checked before the archive
is opened; every member is validated (regular files and folders only, relative paths,
no `..`, no links, no devices, no duplicates, caps on count and bytes) before anything is
written; extraction then uses tarfile's `filter="data"` as a second line of defence, into
a folder the caller created on the destination filesystem. Python 3.11.7's filter alone
is bypassable (CVE-2025-4517), hence the own validation.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from houston.errors import PackageError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Limits:
    """Caps that make decompression bombs fail early instead of filling the disk."""

    max_members: int = 10_000
    max_bytes: int = 200 * 1024 * 1024  # sum of member sizes, uncompressed
    max_archive_bytes: int = 100 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if environ is None else environ
        base = cls()
        return cls(
            max_members=int(env.get("HOUSTON_PKG_MAX_MEMBERS", base.max_members)),
            max_bytes=int(env.get("HOUSTON_PKG_MAX_BYTES", base.max_bytes)),
            max_archive_bytes=int(env.get("HOUSTON_PKG_MAX_ARCHIVE_BYTES", base.max_archive_bytes)),
        )


def sha256_file(path: Path, limit: int | None = None) -> str:
    digest = hashlib.sha256()
    read = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            read += len(chunk)
            if limit is not None and read > limit:
                raise PackageError(
                    f"archive is larger than the {limit} byte cap",
                    where=str(path),
                    fix="raise HOUSTON_PKG_MAX_ARCHIVE_BYTES if the package is trusted",
                )
            digest.update(chunk)
    return digest.hexdigest()


def digest_path(archive: Path) -> Path:
    return archive.with_name(archive.name + ".sha256")


def read_expected_digest(archive: Path) -> str:
    """The first word of `<archive>.sha256` (the `sha256sum` format)."""
    sidecar = digest_path(archive)
    try:
        words = sidecar.read_text(encoding="ascii", errors="replace").split()
    except FileNotFoundError:
        raise PackageError(
            "the archive has no .sha256 file next to it",
            where=str(sidecar),
            fix="keep <name>-<version>.tar.gz and its .sha256 together "
            "(`houston package build` writes both)",
        ) from None
    if not words or not _HEX64.match(words[0].lower()):
        raise PackageError(
            "not a sha256 digest file",
            where=str(sidecar),
            fix="the file must start with 64 hex digits",
        )
    return words[0].lower()


def check_digest(archive: Path, limits: Limits) -> str:
    """Compare the archive's digest with its .sha256 before it is ever opened."""
    expected = read_expected_digest(archive)
    if not archive.is_file():
        raise PackageError("no such archive", where=str(archive))
    actual = sha256_file(archive, limits.max_archive_bytes)
    if actual != expected:
        raise PackageError(
            f"sha256 mismatch: expected {expected}, got {actual}",
            where=str(archive),
            fix="the archive is corrupt or was tampered with; fetch it again",
        )
    return actual


def _normalize(name: str, archive: Path) -> str:
    def refuse(why: str) -> PackageError:
        return PackageError(
            f"unsafe archive member {name!r}: {why}",
            where=str(archive),
            fix="rebuild the package with `houston package build`",
        )

    if not name or "\x00" in name or "\\" in name:
        raise refuse("empty name or a NUL/backslash in it")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise refuse("absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise refuse("'..' in the path")
    return posixpath.join(*parts) if parts else "."


def _check_type(member: tarfile.TarInfo, archive: Path) -> None:
    if member.isdir() or (member.isfile() and member.type != tarfile.GNUTYPE_SPARSE):
        return
    kind = (
        "symlink"
        if member.issym()
        else "hardlink"
        if member.islnk()
        else "device"
        if member.isdev()
        else f"type {member.type!r}"
    )
    raise PackageError(
        f"unsafe archive member {member.name!r}: {kind}; only regular files and folders "
        "are allowed",
        where=str(archive),
        fix="replace links with copies and rebuild the package",
    )


def _check_place(name: str, kinds: dict[str, bool], archive: Path) -> None:
    """No duplicates, and nothing below a member that is a file."""
    if name in kinds:
        raise PackageError(
            f"duplicate archive member {name!r}",
            where=str(archive),
            fix="rebuild the package with `houston package build`",
        )
    parent = posixpath.dirname(name)
    while parent:
        if kinds.get(parent) is False:
            raise PackageError(
                f"archive member {name!r} lies under the file {parent!r}", where=str(archive)
            )
        parent = posixpath.dirname(parent)


def _parents(name: str) -> list[str]:
    parents = []
    parent = posixpath.dirname(name)
    while parent:
        parents.append(parent)
        parent = posixpath.dirname(parent)
    return parents


def validate_members(tar: tarfile.TarFile, archive: Path, limits: Limits) -> list[tarfile.TarInfo]:
    """Walk the members lazily, so a bomb is refused at its first oversized header."""
    kept: list[tarfile.TarInfo] = []
    kinds: dict[str, bool] = {}  # normalized name -> is a folder
    implied: set[str] = set()  # folders that members lie in, listed or not
    total = 0
    count = 0
    for member in tar:
        count += 1
        if count > limits.max_members:
            raise PackageError(
                f"archive has more than {limits.max_members} members",
                where=str(archive),
                fix="raise HOUSTON_PKG_MAX_MEMBERS if trusted",
            )
        _check_type(member, archive)
        name = _normalize(member.name, archive)
        total += max(member.size, 0)
        if total > limits.max_bytes:
            raise PackageError(
                f"archive expands to more than {limits.max_bytes} bytes",
                where=str(archive),
                fix="raise HOUSTON_PKG_MAX_BYTES if trusted",
            )
        if name == ".":
            continue
        _check_place(name, kinds, archive)
        if not member.isdir() and name in implied:
            raise PackageError(
                f"archive member {name!r} is a file but other members lie under it",
                where=str(archive),
            )
        kinds[name] = member.isdir()
        implied.update(_parents(name))
        member.name = name
        kept.append(member)
    return kept


def open_archive(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PackageError(f"not a readable .tar.gz: {exc}", where=str(archive)) from exc


def extract_verified(archive: Path, destination: Path, limits: Limits) -> None:
    with open_archive(archive) as tar:
        try:
            members = validate_members(tar, archive, limits)
            tar.extractall(destination, members=members, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, tarfile.FilterError | EOFError | tarfile.ReadError):
                raise PackageError(f"archive refused: {exc}", where=str(archive)) from exc
            raise PackageError(f"cannot extract archive: {exc}", where=str(archive)) from exc


def read_member(archive: Path, wanted: str, limits: Limits, max_size: int = 1 << 20) -> bytes:
    """One small file (package.yaml) from an archive whose digest was already checked."""
    with open_archive(archive) as tar:
        try:
            for member in validate_members(tar, archive, limits):
                if member.name == wanted and member.isfile() and member.size <= max_size:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        return handle.read()
        except (tarfile.TarError, EOFError) as exc:
            raise PackageError(f"archive refused: {exc}", where=str(archive)) from exc
    raise PackageError(
        f"the archive has no {wanted}",
        where=str(archive),
        fix="a package archive holds package.yaml at its root",
    )
