"""The mission list's first start on a home of many missions: the index build waits for
the first page to go out, keeps slim rows, and reads each status.json with one open."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from helpers.dashboard import make_missions

from houston.home import fsio
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server import indexfile, listing
from houston.server.launcher import start


def test_status_files_parse_strictly() -> None:
    assert listing._parse(b' \n{"a": 1}\n') == {"a": 1}
    for bad in (b'{"a": 1} x', b'{"a": 1}{}', b"", b"\xff{}"):
        with pytest.raises(ValueError):
            listing._parse(bad)
    assert listing._duration("2026-12-01T10:00:00Z", "2026-12-01T10:01:30.500Z") == 90.5
    assert listing._duration("2026-12-01T10:00:00", "2026-12-01T10:00:02Z") == 2.0  # naive
    assert listing._duration("yesterday", "2026-12-01T10:00:02Z") is None
    assert listing._duration(None, "2026-12-01T10:00:02Z") is None


def test_a_scan_keeps_slim_rows_and_a_page_shows_whole_ones(home: Home) -> None:
    ids = make_missions(home, 30)
    index = listing.MissionIndex(MissionStore(home))
    rows = index.rows()
    assert len(rows) == 30
    assert all(set(r) == {"id", *indexfile.SLIM} for r in rows)
    page, total = index.query(listing.Query(text="nightly", sort="duration"))
    assert total == 15
    store = MissionStore(home)
    for row in page:
        status = fsio.read_json(store.locate(row["id"]).path / "status.json")
        assert {k: row[k] for k in status} == status  # every field a card may show
    assert page[0]["id"] in ids


def test_the_index_build_waits_for_the_first_page(home: Home) -> None:
    make_missions(home, 20)
    cache = home.mission_index
    index = listing.MissionIndex(MissionStore(home), cache=cache)
    builder = threading.Thread(target=index.warm_after_first_page, args=(60.0,), daemon=True)
    builder.start()
    builder.join(0.3)
    assert builder.is_alive() and not cache.exists()  # no page yet: it waits
    index.first_page_sent()
    builder.join(30)
    assert not builder.is_alive() and cache.is_file()


@pytest.mark.process
def test_the_servers_first_page_starts_the_index_build(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_missions(home, 40)
    monkeypatch.setattr(listing, "WARM_DELAY", 60.0)  # only the page can start it
    cache = home.mission_index
    handle = start(home, port=0)
    try:
        time.sleep(0.3)
        assert not cache.exists()
        got: dict[str, Any] = httpx.get(
            f"{handle.base_url}/api/missions", headers={"Authorization": f"Bearer {handle.token}"}
        ).json()
        assert got["total"] == 40 and len(got["missions"]) == 40
        deadline = time.monotonic() + 30
        while not cache.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cache.is_file()
    finally:
        handle.stop()
