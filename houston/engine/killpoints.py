"""Named points of the crash rules at which a test may have this process SIGKILLed.

With `HOUSTON_TEST_KILL_AT=<name>` in its environment (read once, at import), a process
that reaches `reached(name)` kills itself with SIGKILL there: the test suite uses it to
prove that every state is recorded before it is released, at each named point. Unset (as
always outside the tests) a point costs one comparison.

Points: `move.renamed` (a mission folder renamed, its trail and status not yet written),
`recover.recorded` (a dead engine's task recorded, its lock not yet broken),
`finish.recorded` (a dead worker's attempt recorded, its lock not yet broken),
`worker.recorded` (exit.json written, the result not yet accepted nor the lock released).
"""

from __future__ import annotations

import os
import signal

_KILL_AT = os.environ.get("HOUSTON_TEST_KILL_AT") or None


def reached(name: str) -> None:
    if name == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
