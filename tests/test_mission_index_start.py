"""The mission list's first start on a home of many missions: the index build waits for
the first page to go out, keeps slim rows, and reads each status.json with one open."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from dashboard_fixtures import make_missions

from houston import fsio
from houston.home import Home
from houston.server import indexfile, listing
from houston.server.indexbuild import IndexBuilder
from houston.server.launcher import start
from houston.store import MissionStore


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
    cache = home.run / indexfile.FILE_NAME
    index = listing.MissionIndex(MissionStore(home), cache=cache)
    builder = threading.Thread(target=index.warm_after_first_page, args=(60.0,), daemon=True)
    builder.start()
    builder.join(0.3)
    assert builder.is_alive() and not cache.exists()  # no page yet: it waits
    index.first_page_sent()
    builder.join(30)
    assert not builder.is_alive() and cache.is_file()


def wait_until(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert predicate(), what


@pytest.mark.process
def test_a_first_start_builds_the_index_in_a_child_and_a_later_one_after_the_first_page(
        home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = make_missions(home, 50)  # number 50 is EXECUTING
    monkeypatch.setattr(listing, "WARM_DELAY", 60.0)  # only a page or the child can start it
    monkeypatch.setattr(listing, "CHILD_BUILD_MIN", 10)  # a child even for 50 missions
    cache = home.run / indexfile.FILE_NAME
    headers = {"Authorization": ""}
    handle = start(home, port=0)
    try:  # no index file: the child writes it, no page needed; a search meanwhile is right
        headers["Authorization"] = f"Bearer {handle.token}"
        got = httpx.get(f"{handle.base_url}/api/missions?q=nightly", headers=headers).json()
        assert got["total"] == 25
        wait_until(cache.is_file, "the child's index file")
    finally:
        handle.stop()
    store = MissionStore(home)
    moved = next(store.locate(i) for i in ids if store.locate(i).state.value == "EXECUTING")
    status = fsio.read_json(moved.path / "status.json")
    fsio.write_json_atomic(moved.path / "status.json", {**status, "name": "Renamed thing"})
    handle = start(home, port=0)
    try:  # the file is there: it is read and checked once the first page went out
        headers["Authorization"] = f"Bearer {handle.token}"
        time.sleep(0.3)
        assert b"renamed thing" not in cache.read_bytes()
        got = httpx.get(f"{handle.base_url}/api/missions", headers=headers).json()
        assert got["total"] == 50 and len(got["missions"]) == 50
        wait_until(lambda: b"renamed thing" in cache.read_bytes(), "the index checked again")
    finally:
        handle.stop()


@pytest.mark.process
def test_the_builder_child_writes_the_file_and_is_stopped_with_the_server(home: Home) -> None:
    make_missions(home, 10)
    cache = home.run / indexfile.FILE_NAME
    assert IndexBuilder(home.root).run() and cache.is_file()
    assert len(indexfile.load(cache).rows) == 10  # type: ignore[union-attr]
    stopped = IndexBuilder(home.root)
    stopped.stop()
    assert not stopped.run()  # a stopped builder starts nothing
    broken = IndexBuilder(home.root / "nowhere")
    assert not broken.run()  # no home there: no file, the server scans itself
