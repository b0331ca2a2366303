"""Resuming an earlier attempt's Claude Code session in a new attempt (`resume: true`).

The next attempt runs in a fresh worktree, but the conversation of the attempt before it can go on:
the session id is in that attempt's `claude-session.json`. Claude Code keeps a session's
transcript under its config folder (`CLAUDE_CONFIG_DIR`, else `~/.claude`) in
`projects/<working folder, every character but letters, digits and '-' made '-'>/<id>.jsonl`
and looks for it under the folder it runs in, so the transcript is copied to the new
worktree's project folder before `--resume <id>`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from houston.home import runnerfiles


def config_dir(env: Mapping[str, str]) -> Path:
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured)
    return Path(env.get("HOME") or Path.home()) / ".claude"


def project_folder(cwd: str) -> str:
    """Pure: Claude Code's name for the project folder of a working folder."""
    return re.sub(r"[^A-Za-z0-9-]", "-", cwd)


def earlier_session(attempt_dir: str) -> str | None:
    """The newest session id recorded by an earlier attempt of the same task."""
    for earlier in runnerfiles.earlier_attempt_dirs(attempt_dir):
        record = runnerfiles.read_claude_session(earlier)
        if record is not None and record.session_id:
            return record.session_id
    return None


def prepare_resume(attempt_dir: str, cwd: str, env: Mapping[str, str]) -> str | None:
    """The session id to resume in `cwd`, its transcript copied there; None if none."""
    session = earlier_session(attempt_dir)
    if session is None or not re.fullmatch(r"[A-Za-z0-9-]+", session):
        return None
    projects = config_dir(env) / "projects"
    found = sorted(projects.glob(f"*/{session}.jsonl"))
    if not found:
        return None
    target = projects / project_folder(cwd) / f"{session}.jsonl"
    if found[0] != target:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found[0], target)
    return session
