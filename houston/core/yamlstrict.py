"""Strict YAML for every file a user writes: mission.yaml, package.yaml, agent and workflow files.

Owns reading YAML text into plain data (dict, list, str, int, float, bool, None) while
remembering where every node was written, and turning pydantic validation errors into
`SpecError`s that say file:line:column, what is wrong and what to do.

Why not `yaml.safe_load`: it keeps the last of two duplicate keys, expands aliases (billion
laughs), and resolves YAML 1.1 scalars (`no` -> False, `1:20` -> 80, `012` -> 10, dates).
Here the C (or pure Python) *parser* of PyYAML produces events and this module builds the
data itself; no PyYAML constructor ever runs, so no tag can instantiate anything.

Scalar resolution (YAML 1.2 core schema, narrowed so nothing is silently coerced):
quoted and block scalars are text; plain `true|True|TRUE|false|False|FALSE` are booleans
(yes/no/on/off stay text); `null|Null|NULL|~` and empty are null; decimal integers without
leading zeros, `0x..` and `0o..` are integers (`012` stays text); `1.5`, `1.`, `.5`, `1e3`
are floats; `.inf`/`.nan` and overflowing numbers stay text (our data must be JSON). Mapping
keys are always text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from houston.core.errors import SpecError
from houston.core.yamldoc import Document as Document
from houston.core.yamldoc import Path, Position
from houston.core.yamldoc import dotted as dotted
from houston.core.yamldoc import shorten as shorten
from houston.core.yamlstrict_messages import describe, explain

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64

M = TypeVar("M", bound=BaseModel)

# The C parser when PyYAML was built with libyaml; only its event stream is used.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_OCT = re.compile(r"0o[0-7]+")
_FLOAT = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_MAX_NUMBER_TEXT = 300  # longer digit strings stay text (int() refuses > 4300 digits anyway)
# Characters YAML forbids in a stream (YAML 1.2 §5.1, c-printable).
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TAG_PREFIX = "tag:yaml.org,2002:"


class Problem(ValueError):
    """Raise from a pydantic validator: `what` becomes the message, `fix` the hint."""

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(what)
        self.fix = fix


# --- reading ------------------------------------------------------------------------------


def load(text: str | bytes, source: str, *, max_bytes: int = MAX_BYTES) -> Document:
    """Parse one YAML document strictly; raise SpecError with file:line:column."""
    decoded = _decode(text, source, max_bytes)
    _refuse_unprintable(decoded, source)
    try:
        return _compose(yaml.parse(decoded, Loader=_LOADER), source)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, decoded, source) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}", source=source, line=1, column=1) from exc


def split_front_matter(
    text: str | bytes, source: str, *, max_bytes: int = MAX_BYTES
) -> tuple[Document | None, str, int]:
    """Split Markdown with `---` front matter into (front matter, body, body's first line).

    Without front matter: `(None, text, 1)`. Line numbers in the front matter are the
    file's own lines, because the YAML is parsed from the top of the file.
    """
    decoded = _decode(text, source, max_bytes)
    lines = decoded.split("\n")
    if lines[0].rstrip() != "---":
        return None, decoded, 1
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            front = "\n".join(lines[:index]) + "\n"
            body = "\n".join(lines[index + 1 :])
            return load(front, source, max_bytes=max_bytes), body, index + 2
    raise SpecError(
        "the front matter opened by '---' on line 1 is never closed",
        source=source,
        line=1,
        column=1,
        fix="end the front matter with a line holding only '---'",
    )


def _decode(text: str | bytes, source: str, max_bytes: int) -> str:
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "replace"))
    if size > max_bytes:
        raise SpecError(
            f"the file is {size} bytes, over the limit of {max_bytes} bytes",
            source=source,
            fix="keep the file small; put large data in files that the tasks read",
        )
    if isinstance(text, str):
        return text.removeprefix("\ufeff")
    try:
        return text.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = text.count(b"\n", 0, exc.start) + 1
        column = exc.start - (text.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            f"not valid UTF-8 (byte 0x{text[exc.start]:02x})",
            source=source,
            line=line,
            column=column,
            fix="save the file as UTF-8",
        ) from exc


def _refuse_unprintable(text: str, source: str) -> None:
    bad = _NOT_PRINTABLE.search(text)
    if bad is None:
        return
    line = text.count("\n", 0, bad.start()) + 1
    column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
    raise SpecError(
        f"control character U+{ord(bad.group()):04X} is not allowed in YAML",
        source=source,
        line=line,
        column=column,
        fix="remove it, or write it as an escape inside double quotes",
    )


_SYNTAX_FIXES = {
    "mapping values are not allowed": "quote text that contains ': ', or check the indentation",
    "did not find expected key": "check the indentation: keys of one mapping line up",
    "did not find expected '-'": "check the indentation: items of one list line up",
    "could not find expected ':'": "put ': ' after each key, or quote the text",
    "found character that cannot start any token": "quote text that starts with @ or `",
    "found undefined alias": "anchors and aliases are not allowed; write the value out",
}


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, source: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    tab = _tab_indent(text, line)
    if tab is not None:
        return SpecError(
            "a tab is used for indentation",
            source=source,
            line=tab[0],
            column=tab[1],
            fix="indent with spaces only; YAML does not allow tabs there",
        )
    problem = exc.problem or "not valid YAML"
    what = f"YAML syntax error: {problem}"
    if exc.context:
        what += f" ({exc.context})"
    fix = next((hint for key, hint in _SYNTAX_FIXES.items() if key in problem), "")
    fix = fix or "check the indentation and the quoting near this line"
    return SpecError(what, source=source, line=line, column=column, fix=fix)


def _tab_indent(text: str, last_line: int) -> Position | None:
    for number, line in enumerate(text.split("\n")[:last_line], start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return (number, indent.index("\t") + 1)
    return None


# --- building data from parser events -----------------------------------------------------


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    path: Path
    key: str | None = None
    seen: dict[str, int] = field(default_factory=dict)

    def expects_key(self) -> bool:
        return isinstance(self.container, dict) and self.key is None

    def child_path(self) -> Path:
        if isinstance(self.container, dict):
            assert self.key is not None
            return (*self.path, self.key)
        return (*self.path, len(self.container))

    def attach(self, value: Any) -> None:
        if isinstance(self.container, dict):
            assert self.key is not None
            self.container[self.key] = value
            self.key = None
        else:
            self.container.append(value)


_ALIAS_FIX = "anchors and aliases are refused: write the value out in full"
# kind -> (what, fix); `what` is formatted with the event's fields.
_REFUSALS = {
    "documents": (
        "more than one YAML document in one file",
        "keep one document: remove the second '---' and what follows",
    ),
    "alias": ("alias '*{anchor}' is not allowed", _ALIAS_FIX),
    "anchor": ("anchor '&{anchor}' is not allowed", _ALIAS_FIX),
    "tag": (
        "tag '{tag}' is not allowed",
        "remove the tag; write plain values (quote text if needed)",
    ),
    "depth": (f"nested more than {MAX_DEPTH} levels deep", "flatten the structure"),
    "key": ("a mapping key must be plain text, not a list or mapping", "use a word as the key"),
    "duplicate": (
        "duplicate key '{key}' (first written on line {first})",
        "remove one of them; YAML would silently keep only the last",
    ),
}


def _refusal(event: yaml.Event, source: str, kind: str, **fields: object) -> SpecError:
    what, fix = _REFUSALS[kind]
    line, column = _mark(event)
    return SpecError(what.format(**fields), source=source, line=line, column=column, fix=fix)


@dataclass
class _Trace:
    """Where nodes were written, filled while composing."""

    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    plain: dict[Path, str] = field(default_factory=dict)


def _compose(events: Iterable[yaml.Event], source: str) -> Document:
    trace = _Trace()
    stack: list[_Frame] = []
    root: list[Any] = []
    documents = 0
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _refusal(event, source, "documents")
        elif isinstance(event, yaml.AliasEvent):
            raise _refusal(event, source, "alias", anchor=event.anchor)
        elif isinstance(event, yaml.ScalarEvent | yaml.MappingStartEvent | yaml.SequenceStartEvent):
            _refuse_properties(event, source)
            if stack and stack[-1].expects_key():
                _take_key(stack[-1], event, source, trace)
                continue
            path = stack[-1].child_path() if stack else ()
            value = _node_value(event, path, trace)
            (stack[-1].attach if stack else root.append)(value)
            if not isinstance(event, yaml.ScalarEvent):
                if len(stack) >= MAX_DEPTH:
                    raise _refusal(event, source, "depth")
                stack.append(_Frame(value, path))
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            stack.pop()
    return Document(source, root[0] if root else None, trace.values, trace.keys, trace.plain)


def _node_value(event: yaml.NodeEvent, path: Path, trace: _Trace) -> Any:
    """The new node's value; records its position (and its text when plain)."""
    trace.values[path] = _mark(event)
    if isinstance(event, yaml.MappingStartEvent):
        return {}
    if isinstance(event, yaml.SequenceStartEvent):
        return []
    assert isinstance(event, yaml.ScalarEvent)
    if event.style or not event.implicit[0]:
        return event.value
    trace.plain[path] = event.value
    return resolve_plain(event.value)


def _take_key(frame: _Frame, event: yaml.NodeEvent, source: str, trace: _Trace) -> None:
    if not isinstance(event, yaml.ScalarEvent):
        raise _refusal(event, source, "key")
    key = event.value
    if key in frame.seen:
        raise _refusal(event, source, "duplicate", key=key, first=frame.seen[key])
    trace.keys[(*frame.path, key)] = _mark(event)
    frame.seen[key] = _mark(event)[0]
    frame.key = key


def _refuse_properties(event: yaml.NodeEvent, source: str) -> None:
    if event.anchor is not None:
        raise _refusal(event, source, "anchor", anchor=event.anchor)
    tag = getattr(event, "tag", None)
    if tag is not None:
        shown = "!!" + tag.removeprefix(_TAG_PREFIX) if tag.startswith(_TAG_PREFIX) else tag
        raise _refusal(event, source, "tag", tag=shown)


def resolve_plain(text: str) -> Any:
    """The value of an unquoted scalar under Houston's narrowed YAML 1.2 core schema."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if len(text) > _MAX_NUMBER_TEXT:
        return text
    if _INT.fullmatch(text):
        return int(text)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _FLOAT.fullmatch(text) and any(c in text for c in ".eE"):
        number = float(text)
        return number if math.isfinite(number) else text
    return text


def _mark(event: yaml.Event) -> Position:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


# --- validation ---------------------------------------------------------------------------


def validate(model: type[M], doc: Document, *, synonyms: Mapping[str, str] | None = None) -> M:
    """Validate `doc.data` with a pydantic model; the first error in file order is raised
    as a SpecError at its node. `synonyms` maps likely wrong keys to the right ones."""
    if doc.data is None:
        raise doc.error(
            (),
            "the document is empty",
            f"write the keys of a {model.model_config.get('title') or model.__name__}",
        )
    if not isinstance(doc.data, dict):
        raise doc.error(
            (),
            f"expected a mapping (key: value lines) at the top, got "
            f"{describe(doc.data, doc.written(()))}",
            "start the file with 'key: value' lines, not a list or a value",
        )
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise explain(model, doc, exc, synonyms or {}) from exc
