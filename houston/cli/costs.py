"""`houston costs`: spend by mission, agent, package or model (tokens in/out, cost).

The dashboard's cost panel shows the same table (`houston.views.costs.cost_table`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from houston.cli import render
from houston.home.store import MissionStore
from houston.views.costs import GROUPS, cost_table, parse_since


def format_costs(table: dict[str, Any]) -> str:
    """Pure: the table as text, with a total line."""
    by = table["by"]
    headers = [by, "missions", "attempts", "tokens in", "tokens out", "tokens", "cost"]
    rows = [
        [
            r[by],
            r["missions"],
            r["attempts"],
            render.format_tokens(r["input_tokens"]),
            render.format_tokens(r["output_tokens"]),
            render.format_tokens(r["tokens"]),
            render.format_cost(r["cost"]),
        ]
        for r in [*table["rows"], {by: "total", **table["total"]}]
    ]
    return render.format_table(headers, rows)


@click.command()
@click.option(
    "--since", metavar="WHEN", help="today, an age (7d, 12h) or a date (YYYY-MM-DD) [default: all]."
)
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
