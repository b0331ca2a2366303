"""Pure budget arithmetic: limits, usage, reservations, warnings. No I/O, no clock.

Budgets are fail-closed: once spend reaches a limit nothing more is dispatched, and spend
over a limit stops the attempt. A task's reservation is its own declared limit, so the
engine never starts work that could not fit in what is left of the mission's budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WARN_RATIO = Decimal("0.8")
KINDS = ("tokens", "cost", "wall_time")


@dataclass(frozen=True)
class Limits:
    max_tokens: int | None = None
    max_cost: float | None = None
    max_wall_time: float | None = None
    max_concurrency: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Limits:
        data = data or {}
        return cls(
            max_tokens=data.get("max_tokens"),
            max_cost=data.get("max_cost"),
            max_wall_time=data.get("max_wall_time"),
            max_concurrency=data.get("max_concurrency"),
        )

    def limit(self, kind: str) -> float | None:
        value = {"tokens": self.max_tokens, "cost": self.max_cost}.get(kind, self.max_wall_time)
        return None if value is None else float(value)

    @property
    def spends(self) -> bool:
        """Limits on tokens or cost: dispatch must reserve them."""
        return self.max_tokens is not None or self.max_cost is not None


@dataclass(frozen=True)
class Usage:
    tokens: int = 0
    cost: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.tokens + other.tokens, round(self.cost + other.cost, 10))

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "cost": self.cost}


def wall_time_so_far(status: Mapping[str, Any]) -> float:
    """Seconds a mission spent in EXECUTING in earlier runs, from its status.json summary
    (`usage.wall_time`, kept current while it runs): a wall budget goes on from there."""
    usage = status.get("usage")
    value = usage.get("wall_time") if isinstance(usage, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(0.0, float(value))


def mission_share(limits: Limits, used: Usage, reserved_by_others: int) -> dict[str, Any]:
    """What a starting attempt may spend of its mission's tokens at most (for runners that
    check their budget before each model call); empty when the mission has no such limit."""
    if limits.max_tokens is None:
        return {}
    left = limits.max_tokens - used.tokens - reserved_by_others
    return {"mission_tokens_left": max(0, left)}


def spent(usage: Usage, wall_time: float) -> dict[str, float]:
    return {"tokens": float(usage.tokens), "cost": usage.cost, "wall_time": wall_time}


def exceeded(limits: Limits, usage: Usage, wall_time: float = 0.0) -> str | None:
    """The first kind of spend that is over its limit, or None."""
    values = spent(usage, wall_time)
    for kind in KINDS:
        limit = limits.limit(kind)
        if limit is not None and values[kind] > limit:
            return kind
    return None


def exhausted(limits: Limits, usage: Usage, wall_time: float = 0.0) -> str | None:
    """The first kind of spend that has reached its limit (nothing more may start)."""
    values = spent(usage, wall_time)
    for kind in KINDS:
        limit = limits.limit(kind)
        if limit is not None and values[kind] >= limit:
            return kind
    return None


def warnings(limits: Limits, usage: Usage, wall_time: float = 0.0) -> list[str]:
    """Kinds whose spend reached WARN_RATIO of the limit."""
    values = spent(usage, wall_time)
    found = []
    for kind in KINDS:
        limit = limits.limit(kind)
        if limit is None or limit <= 0:
            continue
        if _decimal(values[kind]) >= WARN_RATIO * _decimal(limit):
            found.append(kind)
    return found


def _decimal(value: float) -> Decimal:
    """The decimal a float prints as: 0.8 * 0.05 is 0.04000000000000001 in binary floats,
    so a spend of 0.04 would never reach 80 % of 0.05; as decimals it does."""
    return Decimal(repr(value))


def reservation(task_limits: Limits) -> Usage:
    return Usage(task_limits.max_tokens or 0, task_limits.max_cost or 0.0)


def fits(limits: Limits, used: Usage, reserved: Usage, ask: Usage) -> bool:
    """True if `ask` fits in what is left after spend and running reservations."""
    total = used + reserved + ask
    if limits.max_tokens is not None and total.tokens > limits.max_tokens:
        return False
    return not (limits.max_cost is not None and total.cost > limits.max_cost + 1e-12)


def stop_figure(scope: str, kind: str, limit: float | None, spent_value: float) -> dict[str, Any]:
    """What a budget stop records in the mission's closing transition (`detail`): which
    budget (`scope`: `mission` or `task:<id>`; `kind`: tokens, cost or wall_time), its
    limit and the amount spent when it stopped."""
    return {"scope": scope, "kind": kind, "limit": limit, "spent": round(spent_value, 10)}


def room_figure(limits: Limits, used: Usage, reserved: Usage, ask: Usage) -> dict[str, Any]:
    """The stop figure of a mission with no room left to start a task: the first budget
    that its spend (plus running reservations and the task's own) does not fit, and
    `needed`, what the task reserves of it. Empty when every limit fits."""
    total = used + reserved + ask
    for kind, limit, have, want, asked in (
        ("tokens", limits.max_tokens, used.tokens, total.tokens, ask.tokens),
        ("cost", limits.max_cost, used.cost, total.cost, ask.cost),
    ):
        if limit is not None and (have >= limit or want > limit + 1e-12):
            return {**stop_figure("mission", kind, float(limit), float(have)), "needed": asked}
    return {}


def concurrency_ok(limits: Limits, running: int) -> bool:
    return limits.max_concurrency is None or running < limits.max_concurrency


# A team's ceilings on every mission's budget (the tenants overlay of deploy/k8s sets
# them in the ConfigMap): a mission may ask for less, never for more, and a mission that
# names no limit gets the ceiling.
CEILING_VARIABLES = {
    "max_tokens": "HOUSTON_BUDGET_MAX_TOKENS",
    "max_cost": "HOUSTON_BUDGET_MAX_COST",
    "max_concurrency": "HOUSTON_BUDGET_MAX_CONCURRENCY",
}


def ceiling_from(environ: Mapping[str, str]) -> Limits:
    """The ceilings set in `environ`; ValueError names the variable that is not a number."""
    found: dict[str, Any] = {}
    for key, variable in CEILING_VARIABLES.items():
        text = environ.get(variable, "").strip()
        if not text:
            continue
        try:
            value: float = float(text) if key == "max_cost" else int(text)
        except ValueError:
            raise ValueError(f"{variable}={text!r} is not a number") from None
        if value < 0 or (key == "max_concurrency" and value < 1):
            raise ValueError(f"{variable}={text!r} is out of range")
        found[key] = value
    return Limits.from_dict(found)


def capped(limits: Limits, ceiling: Limits) -> Limits:
    """Each limit of `limits`, lowered to the ceiling's where the ceiling sets one."""

    def lower(own: Any, top: Any) -> Any:
        return top if own is None else own if top is None else min(own, top)

    return Limits(
        max_tokens=lower(limits.max_tokens, ceiling.max_tokens),
        max_cost=lower(limits.max_cost, ceiling.max_cost),
        max_wall_time=limits.max_wall_time,
        max_concurrency=lower(limits.max_concurrency, ceiling.max_concurrency),
    )


def over_text(kind: str, spent_value: float, limit: float | None, scope: str = "") -> str:
    """Why an attempt was stopped for spend: `budget exceeded (tokens 1100 of 1000)`."""
    where = "mission " if scope == "mission" else ""
    label = kind.replace("_", " ")
    return (
        f"budget exceeded ({where}{label} {_amount(kind, spent_value)} of {_amount(kind, limit)})"
    )


def _amount(kind: str, value: float | None) -> str:
    if value is None:
        return "?"
    if kind == "tokens":
        return str(int(value))
    if kind == "cost":
        return "$" + f"{value:.6f}".rstrip("0").rstrip(".")
    return _seconds(value)


def _seconds(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "s"


def stop_text(reason: str, seconds: float | None = None) -> str:
    """The error of an attempt the engine stopped: `timeout (30s)`, `cancelled`, ..."""
    words = reason.replace("_", " ")
    return f"{words} ({_seconds(seconds)})" if seconds is not None else words
