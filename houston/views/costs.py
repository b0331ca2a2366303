"""What missions cost: spend per attempt gathered from the mission folders, then grouped
by mission, agent, package or model. `houston costs` and `GET /api/costs` print the same
table from `cost_table`.

An attempt that spent something has `usage.json` (`tokens`, `cost`, and where the runner
knows them `input_tokens`, `output_tokens`, `model`); an llm attempt's `result.json` also
names its model and the server's `usage` (`prompt_tokens`, `completion_tokens`).
`group_spend` and `parse_since` are pure; `spend_records` only reads files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from houston.core.errors import UsageError
from houston.core.ids import id_time
from houston.core.lifecycle import MissionState
from houston.core.timestamps import parse_age
from houston.home import fsio
from houston.home.attempt_records import UsageRecord
from houston.home.layout import status_file
from houston.home.store import STATE_ORDER, MissionStore
from houston.home.taskfolder import attempt_spends

GROUPS = ("mission", "agent", "package", "model")
UNKNOWN_MODEL = "-"


@dataclass(frozen=True)
class Spend:
    """What one attempt spent."""

    mission: str
    agent: str
    model: str
    input_tokens: int
    output_tokens: int
    tokens: int
    cost: float

    @property
    def package(self) -> str:
        return self.agent.split("/", 1)[0] if "/" in self.agent else self.agent


def group_spend(records: list[Spend], by: str) -> list[dict[str, Any]]:
    """Pure: one row per key, highest cost first (then most tokens, then the key)."""
    if by not in GROUPS:
        raise ValueError(f"cannot group spend by {by!r}")
    rows: dict[str, dict[str, Any]] = {}
    for rec in records:
        key = getattr(rec, by)
        row = rows.setdefault(
            key,
            {
                by: key,
                "missions": set(),
                "attempts": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "tokens": 0,
                "cost": 0.0,
            },
        )
        row["missions"].add(rec.mission)
        row["attempts"] += 1
        row["input_tokens"] += rec.input_tokens
        row["output_tokens"] += rec.output_tokens
        row["tokens"] += rec.tokens
        row["cost"] = round(row["cost"] + rec.cost, 10)
    out = [{**r, "missions": len(r["missions"])} for r in rows.values()]
    out.sort(key=lambda r: (-r["cost"], -r["tokens"], str(r[by])))
    return out


def totals(records: list[Spend]) -> dict[str, Any]:
    return {
        "missions": len({r.mission for r in records}),
        "attempts": len(records),
        "input_tokens": sum(r.input_tokens for r in records),
        "output_tokens": sum(r.output_tokens for r in records),
        "tokens": sum(r.tokens for r in records),
        "cost": round(sum(r.cost for r in records), 10),
    }


def spend_of(mission: str, agent: str, usage: UsageRecord, result: dict[str, Any] | None) -> Spend:
    """Pure: one attempt's spend from its usage.json and result.json."""
    result = result or {}
    raw = result.get("usage")
    reply: dict[str, Any] = raw if isinstance(raw, dict) else {}
    input_tokens = usage.input_tokens or _int(reply.get("prompt_tokens"))
    output_tokens = usage.output_tokens or _int(reply.get("completion_tokens"))
    model = usage.model or result.get("model") or UNKNOWN_MODEL
    return Spend(
        mission=mission,
        agent=agent or "?",
        model=str(model),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        tokens=usage.tokens or input_tokens + output_tokens,
        cost=usage.cost,
    )


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = fsio.read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def mission_spend(mission: str, path: Path) -> list[Spend]:
    """Every attempt of one mission that recorded a spend."""
    return [
        spend_of(mission, str((spec or {}).get("agent") or "?"), usage, result)
        for spec, usage, result in attempt_spends(path)
    ]


def _spent_anything(folder: Path) -> bool:
    status = _json(status_file(folder))
    usage = status.get("usage") if status else None
    if not isinstance(usage, dict):
        return True  # unknown: look at the attempts
    return bool(usage.get("tokens") or usage.get("cost"))


def spend_records(store: MissionStore, since: datetime | None = None) -> list[Spend]:
    """Every spend of missions created at or after `since` (all when None)."""
    records = []
    for state in STATE_ORDER:
        for mission in store.ids_in(state):
            made = id_time(mission)
            if since is not None and made is not None and made < since:
                continue
            folder = store.home.mission_dir(state, mission)
            if state is MissionState.COMPLETED and not _spent_anything(folder):
                continue  # its final status.json says so: no need to walk its attempts
            records.extend(mission_spend(mission, folder))
    return records


def cost_table(store: MissionStore, by: str, since: datetime | None) -> dict[str, Any]:
    """The table `houston costs` prints and the dashboard's cost panel shows."""
    records = spend_records(store, since)
    return {
        "by": by,
        "since": since.astimezone(UTC).isoformat().replace("+00:00", "Z") if since else None,
        "rows": group_spend(records, by),
        "total": totals(records),
    }


def start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """Pure: `today`, an age (`7d`, `12h`, `2w`) or a UTC date `YYYY-MM-DD`; None = all."""
    if text is None or text == "all":
        return None
    if text == "today":
        return start_of_day(now)
    if _DAY.match(text):
        try:
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            pass
    else:
        try:
            return now - timedelta(seconds=parse_age(text))
        except UsageError:
            pass
    raise UsageError(
        f"--since {text!r} is neither an age nor a date",
        fix="write today, all, an age such as 7d or 12h, or a date 2026-12-01",
    )
