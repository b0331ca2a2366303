"""`usage.json`, the spend of an attempt (docs/formats.md, "Attempts"), typed: encoded by
`UsageRecord.encode` and parsed by `UsageRecord.parse` here, and nowhere else. (The records
of coding attempts, workspace.json and claude-session.json, are houston.home.coding_records:
a worker imports those only when it runs one.)

As in houston.home.records, `parse` takes any JSON value and returns None for what is not
a record; a field of the wrong JSON type reads as absent (0 for the tokens and the cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _count(value: Any) -> int | None:
    """A token count as written (an int; a float from a hand edit is truncated)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


def _number(value: Any) -> int | float | None:
    """A figure kept as written (int or float), so that it is written back the same."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """attempts/<n>/usage.json: what the attempt spent. `model` and the input/output
    split are written only when the agent said them (`houston costs --by model`)."""

    tokens: int = 0
    cost: float = 0.0
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    @classmethod
    def of(
        cls, tokens: int, cost: float, model: str | None, input_tokens: int, output_tokens: int
    ) -> UsageRecord:
        """An attempt's totals as a runner counted them: a split of 0 + 0 was not said."""
        said = bool(input_tokens or output_tokens)
        return cls(
            tokens,
            cost,
            model or None,
            input_tokens if said else None,
            output_tokens if said else None,
        )

    def encode(self) -> dict[str, object]:
        record: dict[str, object] = {"tokens": self.tokens, "cost": self.cost}
        if self.model:
            record["model"] = self.model
        if self.input_tokens is not None or self.output_tokens is not None:
            record["input_tokens"] = self.input_tokens or 0
            record["output_tokens"] = self.output_tokens or 0
        return record

    @classmethod
    def parse(cls, data: Any) -> UsageRecord | None:
        if not isinstance(data, dict):
            return None
        model = data.get("model")
        return cls(
            _count(data.get("tokens")) or 0,
            float(_number(data.get("cost")) or 0.0),
            str(model) if model else None,
            _count(data.get("input_tokens")),
            _count(data.get("output_tokens")),
        )
