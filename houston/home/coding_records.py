"""The records of a coding attempt's folder (docs/formats.md, "Attempts"), typed:
`workspace.json` (its git worktree) and `claude-session.json` (its Claude Code session).
Each is encoded by its `encode` and parsed by its `parse` here, and nowhere else; as in
houston.home.records, `parse` takes any JSON value and returns None for what is not such
a record, and a field of the wrong JSON type reads as absent.

Apart from houston.home.attempt_records so that a worker that runs neither a worktree nor
Claude Code never imports these (every dataclass costs a worker's start about 1 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _number(value: Any) -> int | float | None:
    """A figure kept as written (int or float), so that it is written back the same."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class WorkspaceRecord:
    """attempts/<n>/workspace.json: the attempt's git worktree. Written `open` when it
    is made; at the end with the `commit` it left, the `files` it changed and its `state`
    (`committed` or `wip`)."""

    branch: str
    worktree: str
    base: str
    repo: str
    state: str | None = None
    commit: str | None = None
    files: tuple[str, ...] | None = None

    def encode(self) -> dict[str, object]:
        record: dict[str, object] = {
            "branch": self.branch,
            "worktree": self.worktree,
            "base": self.base,
            "repo": self.repo,
        }
        if self.commit is not None:
            record.update(commit=self.commit, files=list(self.files or ()))
        if self.state is not None:
            record["state"] = self.state
        return record

    @classmethod
    def parse(cls, data: Any) -> WorkspaceRecord | None:
        """None without the four fields that name the worktree (nothing to save)."""
        if not isinstance(data, dict):
            return None
        branch, worktree, base, repo = (data.get(k) for k in ("branch", "worktree", "base", "repo"))
        if not (
            isinstance(branch, str)
            and isinstance(worktree, str)
            and isinstance(base, str)
            and isinstance(repo, str)
        ):
            return None
        files = data.get("files")
        return cls(
            branch,
            worktree,
            base,
            repo,
            state=_text(data.get("state")),
            commit=_text(data.get("commit")),
            files=tuple(str(f) for f in files) if isinstance(files, list) else None,
        )


@dataclass(frozen=True, slots=True)
class ClaudeSessionRecord:
    """attempts/<n>/claude-session.json: the Claude Code session an attempt ran (what its
    final `result` message said), for `resume: true` and `houston show`."""

    session_id: str | None
    num_turns: int | None = None
    cost_usd: int | float | None = None
    usage: dict[str, Any] | None = None
    model: str | None = None
    subtype: str | None = None
    duration_ms: int | float | None = None

    def encode(self) -> dict[str, object]:
        return {
            "session_id": self.session_id,
            "num_turns": self.num_turns,
            "cost_usd": self.cost_usd,
            "usage": self.usage,
            "model": self.model,
            "subtype": self.subtype,
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def parse(cls, data: Any) -> ClaudeSessionRecord | None:
        if not isinstance(data, dict):
            return None
        usage, turns = data.get("usage"), _number(data.get("num_turns"))
        return cls(
            _text(data.get("session_id")),
            turns if isinstance(turns, int) else None,
            _number(data.get("cost_usd")),
            usage if isinstance(usage, dict) else None,
            _text(data.get("model")),
            _text(data.get("subtype")),
            _number(data.get("duration_ms")),
        )
