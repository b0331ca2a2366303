"""Timestamps as Houston writes and reads them: pure, no files, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from houston.core.timestamps import iso, iso_from_epoch, iso_seconds, parse_epoch, parse_time

MOMENT = datetime(2026, 11, 22, 7, 21, 37, 123456, tzinfo=UTC)


def test_written_in_utc_with_z_and_milliseconds() -> None:
    assert iso(MOMENT) == "2026-11-22T07:21:37.123Z"
    assert iso(MOMENT.astimezone(timezone(timedelta(hours=2)))) == "2026-11-22T07:21:37.123Z"
    assert iso_seconds(MOMENT) == "2026-11-22T07:21:37Z"
    assert iso_from_epoch(MOMENT.timestamp()) == "2026-11-22T07:21:37.123Z"


def test_what_is_written_reads_back() -> None:
    assert parse_time(iso(MOMENT)) == MOMENT.replace(microsecond=123000)
    assert parse_time("2026-11-22T09:21:37+02:00") == MOMENT.replace(microsecond=0)
    assert parse_epoch("1970-01-01T00:00:10Z") == 10.0


def test_a_time_without_a_zone_is_utc() -> None:
    assert parse_time("2026-11-22T07:21:37") == MOMENT.replace(microsecond=0)


@pytest.mark.parametrize("junk", [None, 3, "", "yesterday", "2026-13-01T00:00:00Z", b"2026"])
def test_anything_else_reads_as_none(junk: object) -> None:
    assert parse_time(junk) is None and parse_epoch(junk) is None
