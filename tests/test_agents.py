"""Agent files and the agent catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from houston.agents.catalog import AgentCatalog, bundled_dir, parse_agent
from houston.core.errors import NotFoundError, SpecError
from houston.home.layout import Home

GOOD = """---
name: summarize
description: Summarize one document.
runner: python
entrypoint: summarize:main
timeout: 5m
retries: 2
budget: {max_tokens: 20000}
tools: Read, Grep
---
Summarize it in five bullets.
"""


def test_a_claude_code_subagent_file_with_houston_keys_parses() -> None:
    agent = parse_agent(GOOD, "summarize.md")
    assert agent.runner_name == "python"
    assert agent.timeout == 300.0
    assert agent.budget is not None and agent.budget.max_tokens == 20000
    assert agent.prompt == "Summarize it in five bullets."
    assert agent.job_dict()["tools"] == "Read, Grep"


def test_an_agent_without_runner_is_a_prompt_agent() -> None:
    agent = parse_agent("---\nname: a\ndescription: d\n---\nHi\n", "a.md")
    assert agent.runner_name == "llm"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("no front matter", 1),
        ("---\nname: a\n---\n", 2),
        ("---\nname: a\ndescription: d\nrunner: python\n---\n", 4),
        ("---\nname: a\ndescription: d\nretries: lots\n---\n", 4),
    ],
)
def test_bad_agent_files_say_where(text: str, line: int) -> None:
    with pytest.raises(SpecError) as caught:
        parse_agent(text, "bad.md")
    assert caught.value.source == "bad.md"
    assert caught.value.line == line


def _install(home: Home, version: str, description: str) -> None:
    folder = home.packages / "pkg" / version / "agents"
    folder.mkdir(parents=True)
    (folder / "a.md").write_text(f"---\nname: a\ndescription: {description}\n---\n")


def test_catalog_prefers_the_pinned_version_else_the_highest(home: Home) -> None:
    _install(home, "1.2.0", "old")
    _install(home, "1.10.0", "new")
    assert AgentCatalog(home).find("pkg/a")[0].description == "new"
    home.lockfile.write_text(json.dumps({"packages": {"pkg": {"version": "1.2.0"}}}))
    assert AgentCatalog(home).find("pkg/a")[0].description == "old"


def test_core_is_bundled_and_missing_agents_are_clear(home: Home) -> None:
    catalog = AgentCatalog(home)
    agent, folder = catalog.find("core/shell")
    assert agent.runner == "command" and folder == bundled_dir() / "core"
    with pytest.raises(NotFoundError, match="no package 'nope'"):
        catalog.find("nope/x")
    with pytest.raises(NotFoundError, match="has no agent 'x'"):
        catalog.find("core/x")


def test_every_bundled_core_agent_parses() -> None:
    for path in sorted((bundled_dir() / "core" / "agents").glob("*.md")):
        assert parse_agent(path.read_text(), str(path)).description


def test_bundled_dir_is_the_repo_packages_folder() -> None:
    assert bundled_dir() == Path(__file__).resolve().parents[1] / "packages"
