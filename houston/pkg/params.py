"""Workflow parameter types: `--set` text converted to the type a parameter declares.

Pure. A parameter's type is its `type:` (string, integer, number, boolean), else the type
of its default, else string. Text that is not a value of that type is refused rather than
passed on as a string: `--set retries=three` must not reach an agent as "three". Digits
are ASCII only (`٣` is a digit to Python's `int()`, not to a user reading the command).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ParamType = Literal["string", "integer", "number", "boolean"]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}
_EXAMPLES = {
    "string": "any text",
    "integer": "e.g. 3 or -1",
    "number": "e.g. 0.5 or 2",
    "boolean": "true or false",
}


class ParamTypeError(ValueError):
    """A value that is not of a parameter's type; the message says what is expected."""


def type_of_default(default: Any) -> ParamType:
    """The type a parameter without `type:` takes from its default (None: string)."""
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    return "string"


def check_default(default: Any, declared: ParamType) -> None:
    """Raise ParamTypeError when a default is not of the declared type (None is allowed)."""
    if default is None or (declared == "string" and isinstance(default, str)):
        return
    found = type_of_default(default)
    if found == declared or (declared == "number" and found == "integer"):
        return
    raise ParamTypeError(f"the default {default!r} is not {_article(declared)} {declared}")


def convert(text: str, declared: ParamType) -> Any:
    """`--set` text as a value of `declared`; ParamTypeError when it is not one."""
    if declared == "string":
        return text
    stripped = text.strip()
    if declared == "boolean" and stripped.lower() in _BOOLEANS:
        return _BOOLEANS[stripped.lower()]
    if declared == "integer" and _INTEGER.fullmatch(stripped):
        return int(stripped)
    if declared == "number" and _NUMBER.fullmatch(stripped):
        value = float(stripped)
        if math.isfinite(value):
            return int(stripped) if _INTEGER.fullmatch(stripped) else value
    raise ParamTypeError(f"{text!r} is not {_article(declared)} {declared} ({_EXAMPLES[declared]})")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


class Parameter(BaseModel):
    """A value a workflow or mission file takes from `--set name=value`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    description: str = ""
    default: Any = None
    required: bool = False
    type: ParamType | None = None

    @property
    def kind(self) -> ParamType:
        """The declared type, else the default's."""
        return self.type or type_of_default(self.default)
