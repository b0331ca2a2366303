"""The time of day, for the modules that stamp records; `houston.core.timestamps` writes
and reads the stamps themselves."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
