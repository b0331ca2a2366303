"""Plain-words messages for pydantic validation errors of YAML documents.

Owns turning one `ValidationError` into one `SpecError`: the problem that comes first in
the file, at the line and column of its node, with a fix (a "did you mean" for typos, the
expected type and "quote it" where YAML read a value differently from what was meant).
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from houston.core.errors import SpecError
from houston.core.yamldoc import Document, Path, dotted, shorten

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
}
_YES_NO = frozenset({"yes", "no", "on", "off", "y", "n"})
_SEXAGESIMAL = re.compile(r"[-+]?[0-9]+(?::[0-5]?[0-9])+(?:\.[0-9]*)?")
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def explain(
    model: type[BaseModel], doc: Document, exc: ValidationError, synonyms: Mapping[str, str]
) -> SpecError:
    """The first error of `exc` in file order, as a SpecError at its node."""
    problems = [_locate(doc, error) for error in exc.errors(include_url=False)]
    # A typo'd key shows as "unknown key" plus "missing key" next to it: say the typo.
    typo_parents = {path[:-1] for path, error in problems if error["type"] == "extra_forbidden"}
    problems = [
        (path, error)
        for path, error in problems
        if error["type"] != "missing" or path[:-1] not in typo_parents
    ]
    problems.sort(key=lambda item: _where(doc, item[0], item[1]))
    path, error = problems[0]
    what, fix = _words(model, doc, path, error, synonyms)
    if len(problems) > 1:
        more = len(problems) - 1
        what += f" (and {more} more problem{'s' if more > 1 else ''} after this one)"
    line, column = _where(doc, path, error)
    return SpecError(what, source=doc.source, line=line, column=column, fix=fix)


def _locate(doc: Document, error: ErrorDetails) -> tuple[Path, ErrorDetails]:
    """Map pydantic's `loc` onto the data, dropping union member names it inserts."""
    path: list[str | int] = []
    node: Any = doc.data
    loc = error["loc"]
    for index, part in enumerate(loc):
        found, child = _child(node, part)
        last_missing = index == len(loc) - 1 and error["type"] == "missing"
        if found or last_missing:
            path.append(part)
            node = child
    return tuple(path), error


def _child(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, dict) and isinstance(part, str) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def _where(doc: Document, path: Path, error: ErrorDetails) -> tuple[int, int]:
    if error["type"] == "extra_forbidden":
        return doc.key_position(path)
    if error["type"] == "missing":
        return doc.position(path[:-1])
    return doc.position(path)


def _words(
    model: type[BaseModel],
    doc: Document,
    path: Path,
    error: ErrorDetails,
    synonyms: Mapping[str, str],
) -> tuple[str, str]:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(model, path, synonyms)
    if kind == "missing":
        parent = f" in {dotted(path[:-1])}" if path[:-1] else ""
        return f"missing required key '{path[-1]}'{parent}", f"add '{path[-1]}: ...'"
    where = dotted(path)
    value = error["input"]
    if kind in _EXPECTED:
        return _wrong_type(where, _EXPECTED[kind], value, doc.written(path))
    if kind in ("literal_error", "enum"):
        expected = str((error.get("ctx") or {}).get("expected", ""))
        extra = " (yes/no/on/off are text, not booleans)" if _is_yes_no(value) else ""
        return f"{where}: {describe(value)} is not one of {expected}{extra}", (
            f"use one of {expected}"
        )
    return _constraint(kind, where, error)


def _unknown_key(
    model: type[BaseModel], path: Path, synonyms: Mapping[str, str]
) -> tuple[str, str]:
    key = str(path[-1])
    allowed = model_keys(model, path[:-1])
    parent = f" in {dotted(path[:-1])}" if path[:-1] else ""
    what = f"unknown key '{key}'{parent}"
    guess = synonyms.get(key) if synonyms.get(key) in allowed else closest_key(key, allowed)
    if guess:
        return what, f"did you mean '{guess}'?"
    if allowed:
        return what, "allowed keys here: " + ", ".join(allowed)
    return what, "remove it"


def _wrong_type(where: str, expected: str, value: Any, written: str | None) -> tuple[str, str]:
    what = f"{where}: expected {expected}, got {describe(value, written)}"
    if value is None:
        return what, "write a value after the ':' (nothing there means null)"
    if expected == "text" and written is not None and written.lower() != str(value).lower():
        return what, f'quote it: "{written}" (YAML reads {written} as {describe(value)})'
    if expected == "text" and written is not None:
        return what, f'quote it: "{written}"'
    if expected == "text" and isinstance(value, int | float | bool):
        return what, f'quote it: "{value}"'
    if expected == "true or false" and isinstance(value, str):
        extra = f" ({shorten(value)} is text here, not a boolean)" if _is_yes_no(value) else ""
        return what, f"write true or false{extra}"
    if expected.startswith("a whole") or expected == "a number":
        return what, _number_fix(value)
    if expected == "a list":
        return what, "write a list: [a, b] or one '- item' per line"
    if expected.startswith("a mapping"):
        return what, "write 'key: value' lines, indented under their parent key"
    return what, f"write {expected}"


def _number_fix(value: Any) -> str:
    if isinstance(value, str) and _SEXAGESIMAL.fullmatch(value):
        return f"write a plain number; {value} is text here (YAML 1.1 read it as base 60)"
    if isinstance(value, str) and re.fullmatch(r"[-+]?0[0-9]+", value):
        return f"write it without leading zeros: {int(value)}"
    if isinstance(value, float):
        return f"write a whole number, e.g. {int(value)}"
    return "write a number, without quotes"


def _constraint(kind: str, where: str, error: ErrorDetails) -> tuple[str, str]:
    ctx = error.get("ctx") or {}
    value = error["input"]
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return f"{where}: must be {words} {ctx.get(name)}, got {shorten(value)}", (
            f"use a value {words} {ctx.get(name)}"
        )
    if kind == "string_too_short":
        return f"{where}: must not be empty", "write some text"
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return f"{where}: is longer than {limit} characters", f"shorten it to {limit} or fewer"
    if kind == "string_pattern_mismatch":
        return f"{where}: {shorten(value)} does not match {ctx.get('pattern')}", "fix its form"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{where}: {message}", str(getattr(ctx.get("error"), "fix", "") or "")


def _is_yes_no(value: Any) -> bool:
    return isinstance(value, str) and value.lower() in _YES_NO


def describe(value: Any, written: str | None = None) -> str:
    """Plain words for a loaded value: `the number 1.1 (written 1.10)`, `text 'yes'`."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        kind = f"the boolean {str(value).lower()}"
    elif isinstance(value, int | float):
        kind = f"the number {value}"
    elif isinstance(value, str):
        return f"the text {shorten(value)}"
    elif isinstance(value, dict):
        return "a mapping"
    elif isinstance(value, list):
        return "a list"
    else:
        return type(value).__name__
    if written is not None and written != str(value).lower() and written != str(value):
        kind += f" (written {written})"
    return kind


def closest_key(key: str, allowed: Iterable[str]) -> str | None:
    """The allowed key a typo most likely meant, if any."""
    choices = list(allowed)
    for choice in choices:
        if choice.lower() == key.lower():
            return choice
    found = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def model_keys(model: type[BaseModel], path: Path) -> list[str]:
    """The keys the model allows in the mapping at `path` ([] when unknown)."""
    annotation: Any = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [info.alias or name for name, info in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(part, str) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(part)
        return info.annotation if info is not None else None
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(part, int) and origin is list and args:
        return args[0]
    if isinstance(part, str) and origin is dict and len(args) == 2:
        return args[1]
    return None
