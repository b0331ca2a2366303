"""Budgets as the engine enforces them: usage as it arrives, warnings, stops, reservations.

The arithmetic is pure (houston.core.budget); this part applies it to live missions:
a task or mission over a limit is stopped (`budget.stop`), one near it is warned about
once (`budget.warn`), and a task is dispatched only while the mission's tokens and cost
left cover its reservation beside those of the attempts already running.
"""

from __future__ import annotations

import time
from typing import Any

from houston.core import budget
from houston.core.lifecycle import Reason
from houston.engine.emitter import Emitter
from houston.engine.mission_run import MissionRun, TaskRun
from houston.engine.stopping import Stopper


class BudgetKeeper:
    def __init__(self, emitter: Emitter, stopper: Stopper) -> None:
        self.emitter = emitter
        self.stopper = stopper

    def on_usage(self, m: MissionRun, t: TaskRun, delta: budget.Usage) -> None:
        assert t.running is not None
        t.running.usage = t.running.usage + delta
        m.dirty = True
        task_used = t.usage + t.running.usage
        self.emitter.emit(
            "usage",
            m.id,
            t.id,
            t.running.number,
            {**delta.to_dict(), "task": task_used.to_dict(), "mission": m.usage().to_dict()},
        )
        self.check(m, f"task:{t.id}", t.limits, task_used, 0.0, t)
        self.check(m, "mission", m.limits, m.usage(), m.wall_time(time.monotonic()), t)

    def check_wall_time(self, m: MissionRun, now: float) -> None:
        if m.limits.max_wall_time is not None and not m.closing:
            self.check(m, "mission", m.limits, m.usage(), m.wall_time(now), None)

    def check(
        self,
        m: MissionRun,
        scope: str,
        limits: budget.Limits,
        used: budget.Usage,
        wall: float,
        t: TaskRun | None,
    ) -> None:
        for kind in budget.warnings(limits, used, wall):
            if (scope, kind) not in m.warned:
                m.warned.add((scope, kind))
                self.emitter.emit(
                    "budget.warn",
                    m.id,
                    t.id if t else None,
                    None,
                    {
                        "scope": scope,
                        "kind": kind,
                        "limit": limits.limit(kind),
                        "spent": budget.spent(used, wall)[kind],
                    },
                )
        over = budget.exceeded(limits, used, wall)
        if over is None:
            return
        spent = budget.spent(used, wall)[over]
        figure = budget.stop_figure(scope, over, limits.limit(over), spent)
        self.emitter.emit("budget.stop", m.id, t.id if t else None, None, figure)
        if t is not None and t.running is not None:
            if t.running.stop_reason is None:
                t.running.stop_error = budget.over_text(over, spent, limits.limit(over), scope)
                t.running.budget_figure = figure
            self.stopper.stop_attempt(m, t, "budget_exceeded")
        if scope == "mission":
            self.stopper.close_mission(m, Reason.BUDGET_EXCEEDED, figure)

    def allows(self, m: MissionRun, t: TaskRun) -> bool:
        """Tokens and cost left for `t`'s reservation beside the running ones' (else the
        mission stops if nothing runs that could free any)."""
        ask = budget.reservation(budget.Limits.from_dict(t.spec.budget))
        used = m.usage()
        if budget.exhausted(m.limits, used) or not budget.fits(m.limits, used, m.reserved(), ask):
            if m.running_count() == 0:
                figure = budget.room_figure(m.limits, used, m.reserved(), ask)
                self.stopper.close_mission(m, Reason.BUDGET_EXCEEDED, {"task": t.id, **figure})
            return False
        return True

    @staticmethod
    def mission_share(m: MissionRun, t: TaskRun) -> dict[str, Any]:
        """The mission's tokens this attempt may use: the reservations of the others (its
        own, just made by begin, is what it may spend) and what was spent are taken off."""
        own = budget.Limits.from_dict(t.spec.budget).max_tokens or 0
        return budget.mission_share(m.limits, m.usage(), m.reserved().tokens - own)
