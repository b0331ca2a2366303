"""Pure budget arithmetic."""

from __future__ import annotations

from houston.engine import budget as bud
from houston.engine.budget import Limits, Usage


def test_exceeded_means_over_and_exhausted_means_reached() -> None:
    limits = Limits(max_tokens=100, max_cost=1.0)
    assert bud.exceeded(limits, Usage(100, 0.5)) is None
    assert bud.exhausted(limits, Usage(100, 0.5)) == "tokens"
    assert bud.exceeded(limits, Usage(101, 0.5)) == "tokens"
    assert bud.exceeded(limits, Usage(0, 1.5)) == "cost"


def test_wall_time_counts_like_any_other_spend() -> None:
    limits = Limits(max_wall_time=10)
    assert bud.exceeded(limits, Usage(), wall_time=10.5) == "wall_time"
    assert bud.warnings(limits, Usage(), wall_time=8) == ["wall_time"]
    assert bud.warnings(limits, Usage(), wall_time=7.9) == []


def test_reservations_must_fit_in_what_is_left() -> None:
    limits = Limits(max_tokens=100)
    ask = bud.reservation(Limits(max_tokens=40))
    assert bud.fits(limits, Usage(20), Usage(40), ask)
    assert not bud.fits(limits, Usage(21), Usage(40), ask)
    assert bud.fits(Limits(), Usage(10**9), Usage(), ask)


def test_concurrency_and_empty_limits() -> None:
    assert bud.concurrency_ok(Limits(max_concurrency=2), 1)
    assert not bud.concurrency_ok(Limits(max_concurrency=2), 2)
    assert Limits.from_dict(None).is_empty()
    assert Usage(1, 0.1) + Usage(2, 0.2) == Usage(3, 0.3)
