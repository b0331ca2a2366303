"""Named points of the crash rules at which a test may have this process SIGKILLed.

With `HOUSTON_TEST_KILL_AT=<name>` (or `<name>@<n>`: the n-th time) in its environment,
read once at import, a process that reaches `reached(name)` kills itself with SIGKILL:
the test suite uses it to prove that every state is recorded before it is released, at
each named point. Unset (as always outside the tests) a point costs one comparison.

Points: `move.renamed` (a mission folder renamed, its trail and status not yet written),
`recover.recorded` (a dead engine's task recorded, its lock not yet broken),
`finish.recorded` (a dead worker's attempt recorded, its lock not yet broken),
`worker.ran` (the agent's result on disk, exit.json not yet written),
`worker.recorded` (exit.json written, the result not yet accepted nor the lock released).
"""

from __future__ import annotations

import os
import signal


def _parse(value: str | None) -> tuple[str | None, int]:
    """`name` or `name@n` (the n-th time the point is reached, counting from 1)."""
    if not value:
        return None, 1
    name, _, nth = value.partition("@")
    return name, int(nth) if nth.isascii() and nth.isdigit() else 1


_KILL_AT, _NTH = _parse(os.environ.get("HOUSTON_TEST_KILL_AT"))
_seen = 0


def reached(name: str) -> None:
    global _seen
    if name == _KILL_AT:
        _seen += 1
        if _seen >= _NTH:
            os.kill(os.getpid(), signal.SIGKILL)
