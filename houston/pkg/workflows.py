"""Workflows: Markdown files whose front matter is a mission template with parameters.

```
---
name: "Resolve ticket {{ ticket_id }}"        # the rest is a mission.yaml, templated
parameters:
  - {name: ticket, description: The customer's message, required: true}
  - {name: priority, default: normal}
tasks:
  - {id: classify, agent: customer-service/ticket-classifier, inputs: {ticket: "{{ ticket }}"}}
---
Documentation for humans.
```
`{{ p }}` is replaced by the parameter `p` (`--set p=value`, else its default), and
`{{ config.<name>.<key> }}` by the package's effective config. A string that is only a
placeholder takes the value itself (a number stays a number). `--set` text is converted
to the parameter's `type:` (string, integer, number, boolean; else the default's type) or
refused (`houston.pkg.params`). A workflow without front
matter is documentation only. The rendered mission gets `requires: [<pkg>@<version>]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from houston.core import yamlstrict
from houston.core.errors import NotFoundError, PackageError, SpecError
from houston.core.templating import RUNTIME_ROOTS
from houston.home.layout import Home
from houston.pkg.lockfile import read_lock
from houston.pkg.manifest import PackageManifest, read_manifest
from houston.pkg.overrides import effective_config, read_overrides
from houston.pkg.params import Parameter, ParamTypeError, check_default, convert

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


@dataclass(frozen=True)
class Workflow:
    package: str
    version: str
    name: str
    path: Path
    parameters: tuple[Parameter, ...]
    template: dict[str, Any] | None  # None: documentation only
    document: yamlstrict.Document | None
    body: str


def installed_package(home: Home, name: str) -> tuple[Path, PackageManifest]:
    entry = read_lock(home.lockfile).packages.get(name)
    if entry is None:
        raise NotFoundError(
            f"package {name!r} is not installed", fix=f"run `houston package install {name}`"
        )
    folder = home.packages / name / entry.version
    return folder, read_manifest(folder)


def load_workflow(home: Home, ref: str) -> Workflow:
    package, _, name = ref.partition("/")
    if not package or not name:
        raise PackageError(
            f"{ref!r} is not PACKAGE/WORKFLOW", fix="e.g. customer-service/resolve-ticket"
        )
    folder, manifest = installed_package(home, package)
    files = manifest.files("workflows")
    if name not in files:
        raise NotFoundError(
            f"package {package}@{manifest.version} has no workflow {name!r}",
            fix=f"available: {', '.join(sorted(files)) or '(none)'}",
        )
    if name in read_overrides(home.packages, package).disabled_workflows:
        raise PackageError(
            f"workflow {ref} is disabled",
            where=f"{home.packages}/{package}.local.yaml",
            fix="remove it from disabled_workflows to run it",
        )
    path = folder / files[name]
    document, body, _ = yamlstrict.split_front_matter(path.read_bytes(), str(path))
    if document is None or document.data is None:
        return Workflow(package, manifest.version, name, path, (), None, None, body)
    if not isinstance(document.data, dict):
        raise document.error((), "workflow front matter must be a mapping")
    params = _parameters(document)
    template = {k: v for k, v in document.data.items() if k != "parameters"}
    return Workflow(package, manifest.version, name, path, params, template, document, body)


def _parameters(document: yamlstrict.Document) -> tuple[Parameter, ...]:
    raw = document.data.get("parameters") or []
    if not isinstance(raw, list):
        raise document.error(
            ("parameters",), "parameters must be a list of {name, description, default, required}"
        )
    params = []
    for index, item in enumerate(raw):
        sub = yamlstrict.Document(
            document.source,
            item,
            {
                path[2:]: pos
                for path, pos in document.values.items()
                if path[:2] == ("parameters", index)
            },
        )
        param = yamlstrict.validate(Parameter, sub)
        try:
            check_default(param.default, param.kind)
        except ParamTypeError as exc:
            raise sub.error(
                ("default",),
                f"parameter {param.name!r}: {exc}",
                "make the default match the type, or change type:",
            ) from None
        params.append(param)
    return tuple(params)


def render_workflow(home: Home, ref: str, params: Mapping[str, str]) -> tuple[bytes, str]:
    """`houston run PACKAGE/WORKFLOW --set k=v`: the mission.yaml bytes and a source label."""
    workflow = load_workflow(home, ref)
    folder, manifest = installed_package(home, workflow.package)
    relative = workflow.path.relative_to(folder).as_posix()
    label = f"{workflow.package}@{workflow.version}/{relative}"
    if workflow.template is None or workflow.document is None:
        raise PackageError(
            f"workflow {ref} is documentation only (no front matter)",
            where=str(workflow.path),
            fix="read it with `houston package info`, or pick a runnable workflow",
        )
    values = _bind(workflow, params)
    scope = {**values, "config": effective_config(home.packages, folder, manifest)}
    rendered = _render(workflow.template, scope, workflow.document, ())
    requires = list(rendered.get("requires") or [])
    pin = f"{workflow.package}@{workflow.version}"
    if not any(str(r).partition("@")[0] == workflow.package for r in requires):
        requires.append(pin)
    rendered["requires"] = requires
    text = yaml.safe_dump(rendered, sort_keys=False, allow_unicode=True)
    return text.encode("utf-8"), label


def _bind(workflow: Workflow, params: Mapping[str, str]) -> dict[str, Any]:
    declared = {p.name: p for p in workflow.parameters}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise PackageError(
            f"unknown parameter {', '.join(unknown)} for workflow "
            f"{workflow.package}/{workflow.name}",
            fix=f"declared: {', '.join(sorted(declared)) or '(none)'}",
        )
    values: dict[str, Any] = {}
    for name, param in declared.items():
        if name in params:
            values[name] = _converted(workflow, param, params[name])
        elif param.required:
            raise PackageError(
                f"workflow {workflow.package}/{workflow.name} needs parameter {name!r}",
                fix=f"add --set {name}=VALUE"
                + (f" ({param.description})" if param.description else ""),
            )
        else:
            values[name] = param.default
    return values


def _converted(workflow: Workflow, param: Parameter, text: str) -> Any:
    try:
        return convert(text, param.kind)
    except ParamTypeError as exc:
        raise PackageError(
            f"--set {param.name}: {exc}",
            where=f"workflow {workflow.package}/{workflow.name}",
            fix=f"parameter {param.name!r} is declared as {param.kind}"
            + (f" ({param.description})" if param.description else ""),
        ) from None


def _render(
    node: Any, scope: Mapping[str, Any], doc: yamlstrict.Document, path: tuple[str | int, ...]
) -> Any:
    if isinstance(node, dict):
        return {k: _render(v, scope, doc, (*path, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v, scope, doc, (*path, i)) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node
    whole = _PLACEHOLDER.fullmatch(node.strip())
    if whole and not _at_run_time(whole.group(1)):
        return _lookup(whole.group(1), scope, doc, path)
    return _PLACEHOLDER.sub(
        lambda m: (
            m.group(0) if _at_run_time(m.group(1)) else _text(_lookup(m.group(1), scope, doc, path))
        ),
        node,
    )


def _at_run_time(dotted: str) -> bool:
    """`{{ tasks.<id>.result }}` (and core/fanout's `{{ item }}`) are filled later."""
    return dotted.split(".")[0] in RUNTIME_ROOTS


render_template = _render  # for plain mission files with parameters (houston.mission_params)
declared_parameters = _parameters


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _lookup(
    dotted: str, scope: Mapping[str, Any], doc: yamlstrict.Document, path: tuple[str | int, ...]
) -> Any:
    value: Any = scope
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            line, column = doc.position(path)
            raise SpecError(
                f"unknown placeholder {{{{ {dotted} }}}}",
                source=doc.source,
                line=line,
                column=column,
                fix="declare it under parameters, or use config.<name>.<key>",
            )
        value = value[part]
    return value
