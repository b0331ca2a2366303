"""Prometheus Operator objects checked against the operator's own CRD schemas, offline.

The schemas come from the PyPI package `cloudcoil-models-prometheus-operator` 0.80.1.0:
pydantic models generated from the CRDs of prometheus-operator v0.80.1 (the package's
version is the operator's plus a build number). Validating with a model checks types,
enums and required fields; pydantic ignores keys it does not know, so `unknown_keys`
walks the object beside the models and names every key that no CRD field has (kubectl's
strict field validation would refuse those; the API server would silently drop them).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, RootModel

OPERATOR_VERSION = "0.80.1"


def model_for(kind: str) -> type[BaseModel]:
    from cloudcoil.models.prometheus_operator import v1

    model: type[BaseModel] = {
        "ServiceMonitor": v1.ServiceMonitor,
        "PrometheusRule": v1.PrometheusRule,
    }[kind]
    return model


def validate(doc: dict[str, Any]) -> list[str]:
    """Every problem of `doc` against its kind's CRD: pydantic's errors, then unknown keys."""
    from pydantic import ValidationError

    model = model_for(doc["kind"])
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return unknown_keys(model, doc, doc["kind"])


def unknown_keys(model: type[BaseModel], data: Any, path: str) -> list[str]:
    if not isinstance(data, dict):
        return []
    fields = {(field.alias or name): field for name, field in model.model_fields.items()}
    found = []
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            found.append(f"{path}.{key}: no such field in the CRD")
            continue
        for inner in _models_in(field.annotation):
            for item in value if isinstance(value, list) else [value]:
                found += unknown_keys(inner, item, f"{path}.{key}")
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The (non-root) models an annotation holds: Optional[...], List[...], unions."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [] if issubclass(annotation, RootModel) else [annotation]
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []
