"""UTC timestamps as Houston writes them in its files (`2026-11-22T07:21:37.123Z`) and how
they are read back: the one place that formats and parses them.

Readers are lenient: a value that is not a timestamp reads as None, and a time written
without a zone is taken as UTC (Houston only writes UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from houston.core.errors import UsageError


def iso(ts: datetime) -> str:
    """Milliseconds, `Z` for UTC: the form of every timestamp in Houston's files."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_seconds(ts: datetime) -> str:
    """Whole seconds, `Z` for UTC (a mission's creation time in lists)."""
    return ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_from_epoch(seconds: float) -> str:
    """`iso` of a POSIX time (what `time.time()` returns)."""
    return iso(datetime.fromtimestamp(seconds, UTC))


def parse_time(value: object) -> datetime | None:
    """An aware datetime from an ISO 8601 text (`Z` or an offset); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_epoch(value: object) -> float | None:
    """`parse_time` as a POSIX time."""
    parsed = parse_time(value)
    return parsed.timestamp() if parsed else None


_AGE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*\Z")  # ASCII digits only
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """`30d`, `12h`, `2w`, `90` (seconds) -> seconds (`houston gc --keep`, `costs --since`)."""
    match = _AGE.match(text)
    if not match:
        raise UsageError(f"{text!r} is not an age", fix="write e.g. 30d, 12h, 2w or 3600")
    return float(match.group(1)) * _UNIT[match.group(2)]
