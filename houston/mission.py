"""The mission.yaml model: what a user may write, validated strictly.

Pure: `load_mission` takes the file's text and its name and returns a `MissionSpec`
or raises `SpecError` with file:line:column.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from houston.errors import SpecError

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: object) -> float:
    """`90`, `90s`, `5m`, `1h30m` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 30s, 5m, 1h30m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value and (m := _DURATION.match(value.strip())):
        hours, minutes, secs = m.groups()
        seconds = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0)
    else:
        raise ValueError("a duration is a number of seconds or text like 30s, 5m, 1h30m")
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
SafeId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
AgentRef = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Budget(Strict):
    max_tokens: int | None = Field(default=None, ge=0)
    max_cost: float | None = Field(default=None, ge=0)
    max_wall_time: Duration | None = None
    max_concurrency: int | None = Field(default=None, ge=1)


class TaskSpec(Strict):
    id: SafeId
    agent: AgentRef
    inputs: dict[str, Any] = Field(default_factory=dict)
    needs: list[SafeId] = Field(default_factory=list)
    retries: int | None = Field(default=None, ge=0, le=100)
    timeout: Duration | None = None
    budget: Budget | None = None


class InitializerSpec(TaskSpec):
    id: SafeId = "init"


class MissionSpec(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    gate: Literal["none", "approve"] = "none"
    budget: Budget | None = None
    context: str = ""
    initializer: InitializerSpec | None = None
    tasks: list[TaskSpec] = Field(default_factory=list)
    on_failure: Literal["fail_fast", "continue"] = "fail_fast"
    requires: list[str] = Field(default_factory=list)


def load_mission(text: str | bytes, source: str) -> MissionSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}", source=source) from exc
    if not isinstance(data, dict):
        raise SpecError("a mission file must be a mapping", source=source, line=1, column=1)
    try:
        return MissionSpec.model_validate(data)
    except ValueError as exc:
        raise SpecError(str(exc), source=source) from exc
