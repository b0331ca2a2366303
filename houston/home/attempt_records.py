"""The records of an attempt folder beside exit.json and agent.json (docs/formats.md,
"Attempts"), typed: `usage.json`, `workspace.json` and `claude-session.json`. Each is
encoded by its `encode` and parsed by its `parse` here, and nowhere else.

As in houston.home.records, `parse` takes any JSON value and returns None for what is not
such a record; a field of the wrong JSON type reads as absent, as the `.get` readers did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from houston.core.budget import Usage


def _count(value: Any) -> int | None:
    """A token count as written (an int; a float from a hand edit is truncated)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


def _number(value: Any) -> int | float | None:
    """A figure kept as written (int or float), so that it is written back the same."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


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

    @property
    def spent(self) -> Usage:
        """The tokens and cost budgets count."""
        return Usage(self.tokens, self.cost)

    def with_spent(self, spent: Usage) -> UsageRecord:
        """This record with the engine's count of tokens and cost (a dead worker's
        attempt: the model and the split it wrote stay)."""
        return replace(self, tokens=spent.tokens, cost=spent.cost)

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
