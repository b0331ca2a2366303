"""`houston costs`: spend by mission, agent, package or model (tokens in/out, cost).

The dashboard's cost panel shows the same table (`houston.costs.cost_table`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from houston.cli import render
from houston.core.errors import UsageError
from houston.costs import GROUPS, cost_table, start_of_day
from houston.home.store import MissionStore

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
        from houston.cli.telemetry import parse_age

        try:
            return now - timedelta(seconds=parse_age(text))
        except UsageError:
            pass
    raise UsageError(f"--since {text!r} is neither an age nor a date",
                     fix="write today, all, an age such as 7d or 12h, or a date 2026-12-01")


def format_costs(table: dict[str, Any]) -> str:
    """Pure: the table as text, with a total line."""
    by = table["by"]
    headers = [by, "missions", "attempts", "tokens in", "tokens out", "tokens", "cost"]
    rows = [[r[by], r["missions"], r["attempts"], render.format_tokens(r["input_tokens"]),
             render.format_tokens(r["output_tokens"]), render.format_tokens(r["tokens"]),
             render.format_cost(r["cost"])] for r in [*table["rows"], {by: "total",
                                                                        **table["total"]}]]
    return render.format_table(headers, rows)


@click.command()
@click.option("--since", metavar="WHEN",
              help="today, an age (7d, 12h) or a date (YYYY-MM-DD) [default: all].")
@click.option("--by", "by", type=click.Choice(GROUPS), default="mission", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The table as one JSON document.")
@click.pass_obj
def costs(obj: Any, since: str | None, by: str, as_json: bool) -> None:
    """Spend by mission, agent, package or model."""
    start = parse_since(since, datetime.now(UTC))
    table = cost_table(MissionStore(obj.home), by, start)
    if as_json:
        render.emit_json(table)
    else:
        render.emit(format_costs(table))
