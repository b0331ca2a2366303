"""Mission ids: `<utc yyyymmdd-hhmmss>-<slug>-<4 random>`, lowercase and sortable by time.

Pure: the clock and the random part come in as arguments (the store draws the random
suffix when it creates a mission).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SUFFIX = re.compile(r"^[a-z0-9]{4}$")
MISSION_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[a-z0-9-]{1,32}-[a-z0-9]{4}$")


def slugify(name: str, limit: int = 32) -> str:
    """Lowercase ASCII letters, digits and dashes; accents folded (`Été` -> `ete`)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", folded.lower()).strip("-")[:limit].strip("-")
    return slug or "mission"


def make_mission_id(name: str, now: datetime, suffix: str) -> str:
    """`now` must be timezone-aware; `suffix` four lowercase letters or digits."""
    if now.tzinfo is None:
        raise ValueError("mission ids are made from an aware UTC time")
    if not _SUFFIX.match(suffix):
        raise ValueError(f"a mission id suffix is 4 lowercase letters or digits, not {suffix!r}")
    return f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{slugify(name)}-{suffix}"


def id_time(mission_id: str) -> datetime | None:
    """The UTC creation time written into a mission id; None for a hand-made name."""
    if not MISSION_ID.match(mission_id):
        return None
    try:
        return datetime.strptime(mission_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def is_safe_id(text: str) -> bool:
    """True if `text` is usable as one folder name on every filesystem we support."""
    return bool(SAFE_ID.match(text))


def is_decimal(text: str) -> bool:
    """Only the ASCII digits 0-9 (str.isdigit also takes "²" and "٣", which int() reads
    as a different name or refuses)."""
    return text.isascii() and text.isdigit()
