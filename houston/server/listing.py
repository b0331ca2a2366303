"""The dashboard's mission list: search, filters, sort and paging done on the server.

`Query` and `select` are pure: rows in, one page out. `MissionIndex` gathers the rows and
keeps each one until its `status.json` changes (size and mtime), so that with 10,000
missions a filter costs at most one `stat` per mission, not one JSON parse. COMPLETED is
final: a mission's status there is written only by the move that brought it in, so while
the COMPLETED folder's mtime (changed by every move in or out) stays put, its rows are
reused without a stat at all. mission.yaml never changes after submission: the packages
it names are read on the first package filter and kept by id. Between server starts the
rows are kept, slim, in an index file under run/ (`indexfile`), checked the same way.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from houston.core.ids import id_time, is_decimal
from houston.core.lifecycle import MissionState, Outcome
from houston.core.timestamps import iso_seconds, parse_time
from houston.home.layout import MISSION_SPEC, STATUS
from houston.home.status import MissionStatus, parse_status
from houston.home.store import STATE_ORDER, MissionRef, MissionStore
from houston.server import indexfile

SORTS = ("newest", "oldest", "name", "duration", "cost")
OUTCOMES = tuple(outcome.value for outcome in Outcome)
MAX_LIMIT = 1000
WARM_DELAY = 1.0  # seconds the index build waits for the first page to go out
# `agent: pkg/name` lines of a mission.yaml: enough to say which packages it uses
# without a YAML parse per mission.
_AGENT_LINE = re.compile(rb"agent:\s*[\"']?([a-z0-9][a-z0-9._-]*)/", re.MULTILINE)


@dataclass(frozen=True)
class Query:
    text: str = ""
    states: tuple[str, ...] = ()
    outcome: str = ""
    package: str = ""
    since: str = ""  # YYYY-MM-DD, created on or after (UTC)
    until: str = ""  # YYYY-MM-DD, created on or before (UTC)
    sort: str = "newest"
    limit: int = 50
    offset: int = 0

    @property
    def is_plain(self) -> bool:
        """No filter and newest first: the page can be cut from folder names alone."""
        return (
            not (self.text or self.outcome or self.package or self.since or self.until)
            and self.sort == "newest"
        )


def parse_query(params: dict[str, str]) -> Query:
    """Lenient: an unknown sort or state is ignored rather than refused (a URL typed by
    hand still shows missions)."""
    states = tuple(s.strip().upper() for s in params.get("state", "").split(",") if s.strip())
    known = {s.value for s in STATE_ORDER}
    sort = params.get("sort", "newest")
    return Query(
        text=params.get("q", "").strip().lower()[:200],
        states=tuple(s for s in states if s in known),
        outcome=params.get("outcome", "") if params.get("outcome") in OUTCOMES else "",
        package=params.get("package", "").strip().lower()[:100],
        since=_day(params.get("since", "")),
        until=_day(params.get("until", "")),
        sort=sort if sort in SORTS else "newest",
        limit=max(1, min(MAX_LIMIT, _int(params.get("limit"), 50))),
        offset=max(0, _int(params.get("offset"), 0)),
    )


def _int(raw: str | None, default: int) -> int:
    return int(raw) if raw and is_decimal(raw) else default


def _day(raw: str) -> str:
    return raw if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw) else ""


def matches(row: dict[str, Any], query: Query) -> bool:
    if query.states and row["state"] not in query.states:
        return False
    if query.outcome and row.get("outcome") != query.outcome:
        return False
    if query.package and query.package not in row.get("packages", ()):
        return False
    day = (row.get("created") or "")[:10]
    if query.since and (not day or day < query.since):
        return False
    if query.until and (not day or day > query.until):
        return False
    return not query.text or query.text in row["id"] or query.text in row["search"]


def _sort_key(sort: str) -> Any:
    keys: dict[str, Any] = {
        "name": lambda r: (r["search"], r["id"]),
        "duration": lambda r: (-(r.get("duration") or 0.0), r["id"]),
        "cost": lambda r: (-(r.get("cost") or 0.0), r["id"]),
    }
    return keys.get(sort, lambda r: r["id"])


def select(rows: list[dict[str, Any]], query: Query) -> tuple[list[dict[str, Any]], int]:
    """The page of matching rows and how many matched in all."""
    found = [r for r in rows if matches(r, query)]
    found.sort(key=_sort_key(query.sort), reverse=query.sort == "newest")
    return found[query.offset : query.offset + query.limit], len(found)


def card(mission_id: str, state: str, status: MissionStatus) -> dict[str, Any]:
    """One row of the list: what a card shows and what filters look at."""
    name = str(status.get("name") or mission_id)
    return {**status, **slim_card(mission_id, state, status), "name": name}


def slim_card(mission_id: str, state: str, status: MissionStatus) -> dict[str, Any]:
    """What filters and sorts look at (indexfile.SLIM and the id): the index keeps only
    this of the missions no page has shown, a tenth of their status.json."""
    cost = status.get("usage", {}).get("cost")
    return {
        "id": mission_id,
        "state": state,
        "outcome": status.get("outcome"),
        "created": status.get("created") or _id_iso(mission_id),
        "search": str(status.get("name") or mission_id).lower(),
        "duration": _duration(status.get("started"), status.get("finished")),
        "cost": float(cost or 0.0),
    }


def _duration(started: Any, finished: Any) -> float | None:
    if not (isinstance(started, str) and isinstance(finished, str)):
        return None
    try:  # fromisoformat reads the `Z` of our timestamps itself (Python 3.11)
        begin, end = datetime.fromisoformat(started), datetime.fromisoformat(finished)
        return (end - begin).total_seconds()
    except (ValueError, TypeError):  # not ISO, or one naive and one aware
        begin_at, end_at = parse_time(started), parse_time(finished)
        return (end_at - begin_at).total_seconds() if begin_at and end_at else None


_DECODER = json.JSONDecoder()


def _parse(data: bytes) -> Any:
    """json.loads without its wrappers (encoding sniffing, two whitespace matches): a
    tenth of a scan's time. Anything after the value but whitespace is refused alike."""
    text = data.decode()
    value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    if text[end:].strip():
        raise ValueError("extra data after the JSON value")
    return value


def _key(state: MissionState, path: str) -> tuple[str, int, int]:
    try:
        info = os.stat(path)
    except OSError:
        return (state.value, -1, -1)
    return (state.value, info.st_size, info.st_mtime_ns)


def _id_iso(mission_id: str) -> str | None:
    made = id_time(mission_id)
    return iso_seconds(made) if made else None


@dataclass
class MissionIndex:
    """Rows of every mission, each re-read only when its status.json changed.

    With `cache` set, the rows start from that file (`indexfile`) and are checked the same
    way; `warm` builds the index and writes the file back."""

    store: MissionStore
    cache: Path | None = None
    _rows: dict[str, tuple[tuple[str, int, int], dict[str, Any]]] = field(default_factory=dict)
    _packages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _completed: tuple[int, dict[str, dict[str, Any]]] = field(default_factory=lambda: (-1, {}))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _load_lock: threading.Lock = field(default_factory=threading.Lock)
    _scan_lock: threading.Lock = field(default_factory=threading.Lock)
    _loaded: bool = False
    _dirty: bool = False  # rows changed since the file was read or written
    _first_page: threading.Event = field(default_factory=threading.Event)

    def warm(self) -> None:
        """Build the whole index (from the file where it still holds) and save it."""
        self.rows()
        self.save()

    def warm_after_first_page(self, at_most: float | None = None) -> None:
        """`warm`, once the first page went out (or after `at_most` seconds). The first
        page needs no index (folder names and 50 statuses): a scan of 10,000 status.json
        files beside it would only take its CPU. A search before then scans at once."""
        self._first_page.wait(WARM_DELAY if at_most is None else at_most)
        self.warm()

    def first_page_sent(self) -> None:
        self._first_page.set()

    def save(self) -> bool:
        if self.cache is None or not self._dirty:
            return False
        with self._lock:  # dict() copies are atomic: a row gaining "packages" meanwhile is safe
            snapshot = indexfile.Snapshot(
                {i: (k, dict(r)) for i, (k, r) in self._rows.items()},
                dict(self._packages),
                (self._completed[0], dict(self._completed[1])),
            )
            self._dirty = False
        if not indexfile.save(self.cache, snapshot):
            self._dirty = True
            return False
        return True

    def _load(self) -> None:
        """Once, before the first full scan; a caller arriving meanwhile waits for it."""
        with self._load_lock:
            if self._loaded:
                return
            found = indexfile.load(self.cache) if self.cache is not None else None
            if found is not None:
                with self._lock:
                    for mission_id, entry in found.rows.items():
                        self._rows.setdefault(mission_id, entry)
                    for mission_id, packages in found.packages.items():
                        self._packages.setdefault(mission_id, packages)
                    if self._completed[0] == -1:
                        self._completed = found.completed
            self._loaded = True

    def query(self, query: Query) -> tuple[list[dict[str, Any]], int]:
        states = tuple(s for s in STATE_ORDER if not query.states or s.value in query.states)
        if query.is_plain:  # newest first, no filter: read only the page's statuses
            refs, total = self.store.page(states, limit=query.limit, offset=query.offset)
            return [self.row(r) for r in refs], total
        rows = self.rows(states)
        if query.package:  # mission.yaml is read only for a package filter, then kept
            for row in rows:
                if "packages" not in row:
                    row["packages"] = list(self.packages(row["id"], row["state"]))
        page, total = select(rows, query)
        return [self._whole(row) for row in page], total

    def _whole(self, row: dict[str, Any]) -> dict[str, Any]:
        """A slim row from the index file (it has no "name": every `card` has) is read
        whole, in place, when a page shows it."""
        if "name" in row:
            return row
        state = MissionState(row["state"])
        folder = str(self.store.home.state_dir(state))
        whole = card(row["id"], state.value, self._status(state, folder, row["id"]))
        with self._lock:
            row.update(whole)
            self._dirty = True
        return row

    def rows(self, states: tuple[MissionState, ...] = STATE_ORDER) -> list[dict[str, Any]]:
        # Plain strings and os.stat: with 10,000 missions, pathlib's joins cost more
        # than the stats themselves.
        self._load()
        rows: dict[str, dict[str, Any]] = {}
        # One scan at a time: a search arriving while the start's scan reads 10,000 files
        # waits for it and then finds them cached, instead of reading them all again.
        with self._scan_lock:
            for state in states:  # a mission seen twice while it moves keeps its later state
                rows.update(self._rows_in(state))
        if states == STATE_ORDER:  # forget missions that are gone (gc): memory stays bounded
            with self._lock:
                for gone in [i for i in self._rows if i not in rows]:
                    del self._rows[gone]
                    self._packages.pop(gone, None)
                    self._dirty = True
        return list(rows.values())

    def _rows_in(self, state: MissionState) -> dict[str, dict[str, Any]]:
        """COMPLETED is final: while no mission entered or left it (the folder's mtime),
        its rows are reused without a stat each."""
        folder = str(self.store.home.state_dir(state))
        try:
            stamp = os.stat(folder).st_mtime_ns  # taken first: a move meanwhile shows next time
        except OSError:
            return {}
        with self._lock:
            if state is MissionState.COMPLETED and self._completed[0] == stamp:
                return self._completed[1]
        found = self._scan(state, folder, self.store.ids_in(state))
        if state is MissionState.COMPLETED:
            with self._lock:
                self._completed = (stamp, found)
                self._dirty = True
        return found

    def _scan(
        self, state: MissionState, folder: str, names: list[str]
    ) -> dict[str, dict[str, Any]]:
        """The rows of `names`, as `_row` gives them, in one pass: the lock is taken twice
        rather than twice a mission (10,000 of them at the first start)."""
        with self._lock:
            cached = [self._rows.get(name) for name in names]
        found: dict[str, dict[str, Any]] = {}
        fresh: dict[str, tuple[tuple[str, int, int], dict[str, Any]]] = {}
        for name, entry in zip(names, cached, strict=True):
            if entry is not None and entry[0] == _key(state, f"{folder}/{name}/{STATUS}"):
                found[name] = entry[1]
                continue
            key, status = self._read(state, folder, name)
            found[name] = slim_card(name, key[0], status)
            fresh[name] = (key, found[name])
        if fresh:
            with self._lock:
                self._rows.update(fresh)
                self._dirty = True
        return found

    def row(self, ref: MissionRef) -> dict[str, Any]:
        return self._row(ref.state, str(ref.path.parent), ref.id, whole=True)

    def _row(
        self, state: MissionState, folder: str, name: str, *, whole: bool = False
    ) -> dict[str, Any]:
        """A mission's row, read again only when its status.json changed. A scan keeps
        slim rows (`slim_card`); a page's rows are whole."""
        with self._lock:
            cached = self._rows.get(name)
        if (
            cached is not None
            and cached[0] == _key(state, f"{folder}/{name}/{STATUS}")
            and (not whole or "name" in cached[1])
        ):
            return cached[1]
        key, status = self._read(state, folder, name)
        row = (card if whole else slim_card)(name, state.value, status)
        with self._lock:
            self._rows[name] = (key, row)
            self._dirty = True
        return row

    def _status(self, state: MissionState, folder: str, name: str) -> MissionStatus:
        return self._read(state, folder, name)[1]

    def _read(
        self, state: MissionState, folder: str, name: str
    ) -> tuple[tuple[str, int, int], MissionStatus]:
        """status.json and the key it was read under (its size and mtime, from the open
        file: no stat of the path first). Read with os calls, not pathlib: 10,000 of them
        at the first start; anything unusual goes through the store's reader, which
        follows a moving mission."""
        key, found = (state.value, -1, -1), None
        try:
            fd = os.open(f"{folder}/{name}/{STATUS}", os.O_RDONLY)
            try:
                info = os.fstat(fd)
                key = (state.value, info.st_size, info.st_mtime_ns)
                data = os.read(fd, info.st_size + 4096)  # one read: a regular file
            finally:
                os.close(fd)
            found = parse_status(_parse(data), name, state)
        except (OSError, ValueError):
            found = None
        if found is not None:
            return key, found
        ref = MissionRef(name, state, self.store.home.mission_dir(state, name))
        return key, self.store.summary(ref)

    def packages(self, mission_id: str, state: str) -> tuple[str, ...]:
        with self._lock:
            known = self._packages.get(mission_id)
        if known is not None:
            return known
        try:
            with open(f"{self.store.home.missions}/{state}/{mission_id}/{MISSION_SPEC}", "rb") as f:
                text = f.read(1024 * 1024)
        except OSError:
            return ()
        found = tuple(sorted({m.decode() for m in _AGENT_LINE.findall(text)}))
        with self._lock:
            self._packages[mission_id] = found
            self._dirty = True
        return found
