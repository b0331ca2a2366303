"""Agent files and where to find them.

An agent is a Markdown file with YAML front matter that stays a valid Claude Code subagent
(`name` and `description` required; other Claude Code keys such as `tools` or `color` are
kept and ignored) plus Houston's keys: `runner` (command | python | llm; absent = a prompt
agent run by llm), `entrypoint` (python: `module:function` inside the package), `command`
(command: an argv list), `timeout`, `retries`, `budget`, `inputs`, and for llm agents `llm`
(Houston's model settings: model, base_url, api_key_env, temperature, max_tokens, stream,
fold_system),
`output` / `output_schema`, `patterns` and `config` (names in its package). Claude Code's
`model`, `tools`, `disallowedTools`, `mcpServers` and `maxTurns` keep Claude Code's meaning
(see docs/agents.md). The body is the prompt.

`AgentCatalog(home).find("pkg/agent")` looks in the installed packages
(`<home>/packages/<name>/<version>/`, the version pinned in houston.lock if any, else the
highest) and then in the bundled packages (`houston/_bundled` in a wheel, else the repo's
`packages/`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from houston.core.errors import NotFoundError, SpecError
from houston.core.ids import is_decimal
from houston.home.layout import Home
from houston.mission import Budget, Duration

if TYPE_CHECKING:
    from houston.core.yamldoc import Document

_ENTRYPOINT = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"


class LlmOptions(BaseModel):
    """Houston's own llm settings (Claude Code's `model` key means something else)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    model: str | None = Field(default=None, min_length=1)
    base_url: str | None = Field(default=None, min_length=1)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    stream: bool | None = None
    fold_system: bool | None = None  # the system prompt goes into the first user message


class McpServer(BaseModel):
    """An MCP server, as Claude Code's `mcpServers` writes it. Houston starts stdio ones;
    an agent file with others (`type: http`, `url`) still loads, and the runner refuses to
    use them with a clear error."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    command: str | None = Field(default=None, min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    type: str = "stdio"


CLAUDE_MODELS = ("sonnet", "opus", "haiku", "inherit")


def is_claude_model(name: str) -> bool:
    return name in CLAUDE_MODELS or name.startswith("claude")


class AgentSpec(BaseModel):
    # extra="allow": Claude Code subagent keys (tools, color, ...) are legal and kept.
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1)
    runner: Literal["command", "python", "llm", "claude-code"] | None = None
    entrypoint: str | None = Field(default=None, pattern=_ENTRYPOINT)
    command: list[str] | None = None
    timeout: Duration | None = None
    retries: int | None = Field(default=None, ge=0, le=100)
    budget: Budget | None = None
    inputs: dict[str, Any] | None = None
    # Claude Code's key: sonnet | opus | haiku | inherit | a claude model id (llm.model
    # holds an OpenAI-compatible name); checked in parse_agent.
    model: str | None = None
    llm: LlmOptions | None = None
    output: Literal["text", "json"] | None = None
    output_schema: dict[str, Any] | None = None
    patterns: list[str] | None = None
    config: list[str] | None = None
    tools: str | list[str] | None = None
    disallowedTools: str | list[str] | None = None
    mcpServers: dict[str, McpServer] | None = None
    maxTurns: int | None = Field(default=None, ge=1, le=1000)
    workspace: Literal["none", "worktree"] | None = None
    prompt: str = ""

    @property
    def runner_name(self) -> str:
        return self.runner or "llm"

    def job_dict(self) -> dict[str, Any]:
        """The JSON-able form a worker receives (`Job.agent`)."""
        data = self.model_dump(mode="json")
        data["runner"] = self.runner_name
        return data


def parse_agent(text: str | bytes, source: str) -> AgentSpec:
    """Parse an agent file; SpecError with file:line:column when it is malformed."""
    from houston.core import yamlstrict

    front, body, _ = yamlstrict.split_front_matter(text, source)
    if front is None:
        raise SpecError(
            "an agent file needs YAML front matter",
            source=source,
            line=1,
            column=1,
            fix="start it with '---', then at least name: and description:, then '---'",
        )
    if isinstance(front.data, dict) and "prompt" in front.data:
        raise front.error(
            ("prompt",),
            "the prompt is the file's body, not a key",
            "move the text below the closing '---'",
            at_key=True,
        )
    agent = yamlstrict.validate(AgentSpec, front)
    _check_agent(agent, front)
    return agent.model_copy(update={"prompt": body.strip("\n")})


def _check_agent(agent: AgentSpec, front: Document) -> None:
    """What the schema alone cannot say; the error points at the key in `front`."""
    if agent.model is not None and not is_claude_model(agent.model):
        raise front.error(
            ("model",),
            f"model: {agent.model!r} is Claude Code's key, which means "
            "sonnet, opus, haiku, inherit or a claude model id",
            f"write the OpenAI-compatible model as llm: {{model: {agent.model}}}",
        )
    if agent.output_schema is not None:
        from houston.runners.llm_output import schema_problem

        if problem := schema_problem(agent.output_schema):
            raise front.error(
                ("output_schema",),
                f"output_schema is not a JSON Schema: {problem}",
                "see https://json-schema.org/understanding-json-schema/",
            )
    if agent.runner == "python" and not agent.entrypoint:
        raise front.error(
            ("runner",),
            "a python agent needs an entrypoint",
            "add entrypoint: module:function (module inside the package)",
            at_key=True,
        )


def bundled_dir() -> Path:
    """The bundled packages: inside the wheel, else the repo's packages/ folder."""
    here = Path(__file__).resolve().parent.parent  # the houston package
    wheel = here / "_bundled"
    return wheel if wheel.is_dir() else here.parent / "packages"


_VERSION_PART = re.compile(r"(\d+)")


def _version_key(text: str) -> tuple[tuple[int, ...], str]:
    core, _, pre = text.partition("-")
    numbers = tuple(int(p) for p in _VERSION_PART.findall(core))
    # A release sorts after its pre-releases ("~" sorts after any pre-release text).
    return numbers, pre or "~"


class AgentCatalog:
    """Finds `package/agent` references; caches parsed agents for the engine's lifetime."""

    def __init__(self, home: Home, *, bundled: Path | None = None) -> None:
        self.home = home
        self.bundled = bundled or bundled_dir()
        self._cache: dict[str, tuple[AgentSpec, Path]] = {}

    def package_dir(self, package: str) -> Path | None:
        installed = self.home.packages / package
        if installed.is_dir():
            pinned = self._pinned_version(package)
            if pinned and (installed / pinned).is_dir():
                return installed / pinned
            versions = [p.name for p in installed.iterdir() if p.is_dir() and is_decimal(p.name[0])]
            if versions:
                return installed / max(versions, key=_version_key)
        bundled = self.bundled / package
        return bundled if bundled.is_dir() else None

    def _pinned_version(self, package: str) -> str | None:
        try:
            text = self.home.lockfile.read_text()
        except OSError:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        entry = (data.get("packages") or {}).get(package) if isinstance(data, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            return str(entry["version"])
        return None

    def find(self, ref: str) -> tuple[AgentSpec, Path]:
        """(agent, package folder) for `package/agent`; NotFoundError if missing."""
        hit = self._cache.get(ref)
        if hit is not None:
            return hit
        package, _, name = ref.partition("/")
        folder = self.package_dir(package) if package and name else None
        if folder is None:
            raise NotFoundError(
                f"no package {package!r} for agent {ref!r}",
                where=f"{self.home.packages} and {self.bundled}",
                fix=f"install it with `houston package install {package}`",
            )
        path = folder / "agents" / f"{name}.md"
        if not path.is_file():
            path = local_agent_path(self.home, package, name) or path
        if not path.is_file():
            raise NotFoundError(
                f"package {package!r} has no agent {name!r}",
                where=str(path.parent),
                fix=f"see `houston package info {package}` for its agents",
            )
        agent = parse_agent(path.read_bytes(), str(path))
        self._cache[ref] = (agent, folder)
        return agent, folder


def local_agent_path(home: Home, package: str, name: str) -> Path | None:
    """An extra agent declared in `<home>/packages/<package>.local.yaml` (local overrides)."""
    from houston.pkg.overrides import local_agent_paths

    return local_agent_paths(home.packages, package).get(name)
