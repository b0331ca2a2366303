"""Pure budget arithmetic."""

from __future__ import annotations

from houston.core import budget
from houston.core.budget import Limits, Usage


def test_exceeded_means_over_and_exhausted_means_reached() -> None:
    limits = Limits(max_tokens=100, max_cost=1.0)
    assert budget.exceeded(limits, Usage(100, 0.5)) is None
    assert budget.exhausted(limits, Usage(100, 0.5)) == "tokens"
    assert budget.exceeded(limits, Usage(101, 0.5)) == "tokens"
    assert budget.exceeded(limits, Usage(0, 1.5)) == "cost"


def test_wall_time_counts_like_any_other_spend() -> None:
    limits = Limits(max_wall_time=10)
    assert budget.exceeded(limits, Usage(), wall_time=10.5) == "wall_time"
    assert budget.warnings(limits, Usage(), wall_time=8) == ["wall_time"]
    assert budget.warnings(limits, Usage(), wall_time=7.9) == []


def test_the_80_percent_warning_has_no_floating_point_surprises() -> None:
    assert 0.04 < 0.8 * 0.05  # the trap: binary floats put 80 % of 0.05 above 0.04
    assert budget.warnings(Limits(max_cost=0.05), Usage(cost=0.04)) == ["cost"]
    assert budget.warnings(Limits(max_cost=0.05), Usage(cost=0.0399)) == []
    for cents in range(1, 2001):  # every limit from $0.01 to $20.00
        limit = cents / 100
        at_80 = Usage(cost=round(cents * 8 / 1000, 10))
        below = Usage(cost=round(cents * 8 / 1000 - 1e-6, 10))
        assert budget.warnings(Limits(max_cost=limit), at_80) == ["cost"], limit
        assert budget.warnings(Limits(max_cost=limit), below) == [], limit
    cost = Usage()
    for _ in range(4):  # spend added up call by call, as the engine does
        cost = cost + Usage(cost=0.01)
    assert budget.warnings(Limits(max_cost=0.05), cost) == ["cost"]
    assert budget.warnings(Limits(max_tokens=5), Usage(tokens=4)) == ["tokens"]


def test_reservations_must_fit_in_what_is_left() -> None:
    limits = Limits(max_tokens=100)
    ask = budget.reservation(Limits(max_tokens=40))
    assert budget.fits(limits, Usage(20), Usage(40), ask)
    assert not budget.fits(limits, Usage(21), Usage(40), ask)
    assert budget.fits(Limits(), Usage(10**9), Usage(), ask)


def test_concurrency_and_empty_limits() -> None:
    assert budget.concurrency_ok(Limits(max_concurrency=2), 1)
    assert not budget.concurrency_ok(Limits(max_concurrency=2), 2)
    assert Limits.from_dict(None) == Limits()
    assert Usage(1, 0.1) + Usage(2, 0.2) == Usage(3, 0.3)
