"""Mission ids: `<utc yyyymmdd-hhmmss>-<slug>-<4 random>`, lowercase and sortable by time.

Pure: the clock and the random part come in as arguments.
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime

SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ALPHABET = string.ascii_lowercase + string.digits
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
MISSION_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9-]{1,32}-[a-z0-9]{4}$")


def slugify(name: str, limit: int = 32) -> str:
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")[:limit].strip("-")
    return slug or "mission"


def random_suffix() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(4))


def make_mission_id(name: str, now: datetime, suffix: str) -> str:
    """`now` must be timezone-aware UTC; `suffix` four lowercase letters or digits."""
    return f"{now:%Y%m%d-%H%M%S}-{slugify(name)}-{suffix}"


def is_safe_id(text: str) -> bool:
    """True if `text` is usable as one folder name on every filesystem we support."""
    return bool(SAFE_ID.match(text))
