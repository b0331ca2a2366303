"""Version numbers and npm ranges: a thin, validated layer over node-semver.

Pure. node-semver answers `False`/`None` for garbage instead of raising, so every
range and version is validated here once, when it is read, and the rest of Houston only
ever sees ranges that parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nodesemver  # type: ignore[import-untyped]

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


def is_valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def is_valid_version(version: str) -> bool:
    """A full `MAJOR.MINOR.PATCH[-pre][+build]` version, as npm publishes them."""
    parsed = nodesemver.valid(version, False)
    # node-semver is loose about a leading "v", "=" or spaces: a published version is not
    return parsed is not None and version == version.strip() and version[:1].isdigit()


def is_valid_range(range_: str) -> bool:
    return bool(range_.strip()) and nodesemver.valid_range(range_, False) is not None


def satisfies(version: str, range_: str, *, prerelease: bool = False) -> bool:
    """True when `version` is inside `range_`.

    As in npm, a prerelease only matches a range that names a prerelease of the same
    `MAJOR.MINOR.PATCH`, unless `prerelease=True` asks for every prerelease.
    """
    return bool(nodesemver.satisfies(version, range_, False, include_prerelease=prerelease))


def sort_descending(versions: list[str]) -> list[str]:
    return list(nodesemver.rsort(list(versions), False))


def is_prerelease(version: str) -> bool:
    return bool(nodesemver.make_semver(version, False).prerelease)


@dataclass(frozen=True)
class Requirement:
    """`name@range`; a bare `name` means any released version (`*`)."""

    name: str
    range: str = "*"

    def __str__(self) -> str:
        return f"{self.name}@{self.range}"


def parse_requirement(text: str) -> Requirement:
    """`core-workflow@^2.0.0` -> Requirement; raises ValueError with a readable reason."""
    name, sep, range_ = text.strip().partition("@")
    name = name.strip()
    range_ = range_.strip() if sep else "*"
    if not is_valid_name(name):
        raise ValueError(
            f"{text!r}: a package name is lowercase letters, digits, '-' or '_' "
            "(up to 64 characters)"
        )
    if not is_valid_range(range_):
        raise ValueError(
            f"{text!r}: {range_!r} is not an npm semver range (e.g. ^1.2.0, ~1.2, >=1 <2)"
        )
    return Requirement(name, range_)


def require(text: str) -> Requirement:
    """`parse_requirement` for user input: a PackageError (exit 2) instead of ValueError."""
    from houston.errors import PackageError

    try:
        return parse_requirement(text)
    except ValueError as exc:
        raise PackageError(
            f"bad requirement {exc}", fix="write NAME@RANGE, e.g. customer-service@^1.2"
        ) from None
