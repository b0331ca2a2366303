"""Output helpers shared by every command: plain tables, JSON, ages, durations, money.

The `format_*` functions are pure and return text; `emit` and `emit_json` print it.
Tables are plain text without colour so they stay readable in logs and pipes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

EMPTY = "-"


def emit(text: str) -> None:
    click.echo(text)


def emit_json(obj: Any) -> None:
    """One JSON document on stdout, stable key order, for scripts (`--json`)."""
    click.echo(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; None shows as `-`."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    lines = [_line(headers, widths), *(_line(row, widths) for row in cells)]
    return "\n".join(lines)


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()


def _cell(value: Any) -> str:
    if value is None:
        return EMPTY
    text = str(value)
    return text.replace("\n", " ").replace("\t", " ")


def format_kv(pairs: Sequence[tuple[str, Any]]) -> str:
    """`key   value` lines with aligned values."""
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in pairs)


def format_age(seconds: float | None) -> str:
    """A rough age: `12s`, `5m`, `3h`, `2d`."""
    if seconds is None:
        return EMPTY
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def format_duration(seconds: float | None) -> str:
    """A precise duration: `0.42s`, `12.3s`, `4m05s`, `2h03m`."""
    if seconds is None:
        return EMPTY
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_cost(cost: float | None) -> str:
    if cost is None:
        return EMPTY
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def format_tokens(tokens: int | None) -> str:
    if tokens is None:
        return EMPTY
    return f"{tokens:,}"


def truncate(text: str | None, width: int) -> str | None:
    """Shorten to `width` characters with an ellipsis; None stays None."""
    if text is None or len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"
