"""A parsed YAML document and the vocabulary of its messages: `Document` (the data and
where each node was written), the `Path` of a node, and how paths and values are shown to
users (`dotted`, `shorten`). houston.core.yamlstrict builds documents;
houston.core.yamlstrict_messages explains validation errors against them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from houston.core.errors import SpecError

Path = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class Document:
    """Parsed YAML: `.data` plus where each node was written (1-based line, column)."""

    source: str
    data: Any
    values: Mapping[Path, Position] = field(default_factory=dict, repr=False)
    keys: Mapping[Path, Position] = field(default_factory=dict, repr=False)
    plain: Mapping[Path, str] = field(default_factory=dict, repr=False)

    def position(self, path: Path) -> Position:
        """Line and column of the deepest node that exists along `path`."""
        for end in range(len(path), -1, -1):
            hit = self.values.get(tuple(path[:end]))
            if hit is not None:
                return hit
        return (1, 1)

    def key_position(self, path: Path) -> Position:
        """Where the key of the mapping entry at `path` is written (else `position`)."""
        return self.keys.get(tuple(path)) or self.position(path)

    def written(self, path: Path) -> str | None:
        """The source text of the plain (unquoted) scalar at `path`, if it is one."""
        return self.plain.get(tuple(path))

    def error(self, path: Path, what: str, fix: str = "", *, at_key: bool = False) -> SpecError:
        """A SpecError pointing at the node (or its key) at `path`."""
        line, column = self.key_position(path) if at_key else self.position(path)
        return SpecError(what, source=self.source, line=line, column=column, fix=fix)


def shorten(value: object, limit: int = 60) -> str:
    """`repr` of a value for a message, cut to about `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dotted(path: Path) -> str:
    """`("tasks", 1, "agent")` -> `tasks[1].agent`, as users see paths in messages."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"
