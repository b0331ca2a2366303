"""Plain mission files with `parameters:`, filled from `houston run FILE --set k=v`.

A mission file declares parameters exactly as a workflow does; `{{ name }}` anywhere in it
is replaced by the `--set` value or the default (a string that is only a placeholder takes
the value itself). `{{ tasks.<id>.result }}` and core/fanout's `{{ item }}` are left for
run time. A file without parameters and without `--set` is submitted byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from houston.core import yamlstrict
from houston.core.errors import SpecError, UsageError
from houston.pkg.params import Parameter, ParamTypeError, convert


def render_mission_file(data: bytes, source: str, sets: Mapping[str, str]) -> bytes:
    """The mission text to submit: `data` itself, or rendered with its parameters."""
    from houston.pkg.workflows import declared_parameters, render_template

    doc = yamlstrict.load(data, source)
    declares = isinstance(doc.data, dict) and "parameters" in doc.data
    if not declares:
        if sets:
            raise UsageError(
                f"--set {', '.join(sorted(sets))}: {source} declares no parameters",
                fix="add a parameters: list to the mission file, or drop --set",
            )
        return data
    params = declared_parameters(doc)
    values = bind(params, sets, source, doc)
    rendered = render_template(
        {k: v for k, v in doc.data.items() if k != "parameters"}, values, doc, ()
    )
    rendered["parameters"] = doc.data["parameters"]
    return yaml.safe_dump(rendered, sort_keys=False, allow_unicode=True).encode("utf-8")


def bind(
    params: tuple[Parameter, ...], sets: Mapping[str, str], source: str, doc: yamlstrict.Document
) -> dict[str, Any]:
    """Each declared parameter's value: from --set (typed like its default), else default."""
    declared = {p.name: p for p in params}
    unknown = sorted(set(sets) - set(declared))
    if unknown:
        raise UsageError(
            f"unknown parameter {', '.join(unknown)} for {source}",
            fix=f"declared: {', '.join(sorted(declared)) or '(none)'}",
        )
    values: dict[str, Any] = {}
    for name, param in declared.items():
        if name in sets:
            try:
                values[name] = convert(sets[name], param.kind)
            except ParamTypeError as exc:
                raise UsageError(
                    f"--set {name}: {exc}",
                    where=source,
                    fix=f"parameter {name!r} is declared as {param.kind}",
                ) from None
        elif param.required:
            line, column = doc.position(("parameters",))
            raise SpecError(
                f"the mission needs parameter {name!r}",
                source=source,
                line=line,
                column=column,
                fix=f"add --set {name}=VALUE"
                + (f" ({param.description})" if param.description else ""),
            )
        else:
            values[name] = param.default
    return values
