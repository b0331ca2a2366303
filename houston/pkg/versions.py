"""Version numbers and npm ranges, as npm reads them (`houston.pkg.npmsemver`).

Pure. Every range and version is validated here once, when it is read, and the rest of
Houston only ever sees ranges that parse.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from houston.core.ids import is_decimal
from houston.pkg import npmsemver

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


def is_valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def is_valid_version(version: str) -> bool:
    """A full `MAJOR.MINOR.PATCH[-pre][+build]` version, as npm publishes them."""
    try:
        npmsemver.parse_version(version)
    except ValueError:
        return False
    # npm accepts a leading "v" or spaces: a published version has neither
    return version == version.strip() and is_decimal(version[:1])


def is_valid_range(range_: str) -> bool:
    try:
        _range(range_, False)
    except ValueError:
        return False
    return bool(range_.strip())


@functools.lru_cache(maxsize=1024)
def _range(text: str, prerelease: bool) -> npmsemver.Range:
    return npmsemver.Range.parse(text, prerelease)


@functools.lru_cache(maxsize=4096)
def _version(text: str) -> npmsemver.Version:
    return npmsemver.parse_version(text)


def satisfies(version: str, range_: str, *, prerelease: bool = False) -> bool:
    """True when `version` is inside `range_`.

    As in npm, a prerelease only matches a range that names a prerelease of the same
    `MAJOR.MINOR.PATCH`, unless `prerelease=True` asks for every prerelease.
    """
    try:
        return _range(range_, prerelease).test(_version(version))
    except ValueError:
        return False


def sort_descending(versions: list[str]) -> list[str]:
    return sorted(versions, key=lambda v: npmsemver.sort_key(_version(v)), reverse=True)


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
    from houston.core.errors import PackageError

    try:
        return parse_requirement(text)
    except ValueError as exc:
        raise PackageError(
            f"bad requirement {exc}", fix="write NAME@RANGE, e.g. customer-service@^1.2"
        ) from None
