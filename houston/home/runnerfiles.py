"""The files a runner keeps in an attempt folder (`tasks/<t>/attempts/<n>/`), beside the
worker's own records (docs/formats.md, "Attempts"):

- `agent-result.json`: where a `command` or `claude-code` agent writes its result
  (`$HOUSTON_RESULT`);
- `needs.json`: the results of the tasks it needs (`$HOUSTON_NEEDS`, `command` runner);
- `inputs.json`: the agent's stdin when it is too big for a pipe (`command` runner);
- `prompt.md`, `claude.jsonl`, `claude-session.json`: the prompt sent to Claude Code,
  every stream-json message it printed, and its session (`claude-code` runner).

The helpers take the attempt folder as a str or a Path, as runners hold it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from houston.core.ids import is_decimal
from houston.home import fsio
from houston.home.taskfiles import write_json_fast

if TYPE_CHECKING:
    from houston.home.coding_records import ClaudeSessionRecord

AGENT_RESULT = "agent-result.json"
NEEDS = "needs.json"
INPUTS = "inputs.json"
CLAUDE_PROMPT = "prompt.md"
CLAUDE_TRANSCRIPT = "claude.jsonl"
CLAUDE_SESSION = "claude-session.json"


def agent_result_path(attempt_dir: str | Path) -> Path:
    return Path(attempt_dir) / AGENT_RESULT


def needs_path(attempt_dir: str | Path) -> Path:
    return Path(attempt_dir) / NEEDS


def inputs_path(attempt_dir: str | Path) -> Path:
    return Path(attempt_dir) / INPUTS


def claude_prompt_path(attempt_dir: str | Path) -> Path:
    return Path(attempt_dir) / CLAUDE_PROMPT


def claude_transcript_path(attempt_dir: str | Path) -> Path:
    return Path(attempt_dir) / CLAUDE_TRANSCRIPT


def claude_session_path(attempt_dir: str | Path) -> Path:
    return Path(attempt_dir) / CLAUDE_SESSION


def write_claude_session(attempt_dir: str | Path, record: ClaudeSessionRecord) -> None:
    """The one writer of claude-session.json (the `claude-code` runner, at the end)."""
    write_json_fast(claude_session_path(attempt_dir), record.encode())


def read_claude_session(attempt_dir: str | Path) -> ClaudeSessionRecord | None:
    """None for a missing, unreadable or torn file (an attempt killed mid-way)."""
    from houston.home.coding_records import ClaudeSessionRecord  # workers start faster

    try:
        return ClaudeSessionRecord.parse(fsio.read_json(claude_session_path(attempt_dir)))
    except (OSError, ValueError):
        return None


def earlier_attempt_dirs(attempt_dir: str | Path) -> list[Path]:
    """The folders of the same task's earlier attempts (lower numbers), newest first."""
    here = Path(attempt_dir)
    numbers = sorted(
        (
            int(p.name)
            for p in here.parent.iterdir()
            if is_decimal(p.name) and int(p.name) < int(here.name)
        ),
        reverse=True,
    )
    return [here.parent / str(number) for number in numbers]
