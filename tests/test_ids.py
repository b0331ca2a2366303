"""Mission ids are pure: made from a given time and suffix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from houston.core.ids import (
    MISSION_ID,
    id_time,
    is_decimal,
    is_safe_id,
    make_mission_id,
    slugify,
)
from houston.home.store import random_suffix

NOW = datetime(2026, 11, 22, 3, 4, 5, tzinfo=UTC)


def test_id_has_time_slug_and_suffix() -> None:
    assert make_mission_id("Hello World!", NOW, "ab12") == "20261122-030405-hello-world-ab12"


def test_id_time_is_utc_whatever_the_zone_given() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=5)))
    assert make_mission_id("x", local, "0000").startswith("20261122-030405-")


def test_ids_sort_by_time() -> None:
    earlier = make_mission_id("zzz", NOW, "zzzz")
    later = make_mission_id("aaa", NOW + timedelta(seconds=1), "0000")
    assert sorted([later, earlier]) == [earlier, later]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Été à Paris", "ete-a-paris"),
        ("  --Build & Test--  ", "build-test"),
        ("日本語", "mission"),
        ("", "mission"),
        ("a" * 80, "a" * 32),
        ("ab-" * 20, ("ab-" * 11)[:32].strip("-")),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_ids_match_the_public_pattern_and_are_lowercase() -> None:
    for name in ["UPPER case", "Été", "x" * 100, "!!!"]:
        mission_id = make_mission_id(name, NOW, random_suffix())
        assert MISSION_ID.match(mission_id), mission_id
        assert mission_id == mission_id.lower()
        assert is_safe_id(mission_id)


@pytest.mark.parametrize("suffix", ["ABCD", "abc", "abcde", "ab-c"])
def test_bad_suffix_is_refused(suffix: str) -> None:
    with pytest.raises(ValueError, match="suffix"):
        make_mission_id("x", NOW, suffix)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        make_mission_id("x", NOW.replace(tzinfo=None), "abcd")


def test_id_time_reads_back_the_creation_time() -> None:
    assert id_time(make_mission_id("x", NOW, "abcd")) == NOW
    assert id_time("by-hand") is None
    assert id_time("20261399-999999-x-abcd") is None


@pytest.mark.parametrize("text", ["", "-a", "A", "a/b", "..", ".hidden", "a" * 65, "a b"])
def test_unsafe_ids(text: str) -> None:
    assert not is_safe_id(text)


def test_only_ascii_digits_count_as_numbers() -> None:
    assert is_decimal("0") and is_decimal("17")
    for text in ("", "²", "٣", "1²", "-1", "1.0", " 1"):
        assert not is_decimal(text), text
    assert not MISSION_ID.match("٢٠٢٦١٢٠٦-213000-hello-ab12")
    assert MISSION_ID.match("20261206-213000-hello-ab12")
