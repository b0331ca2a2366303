"""Local overrides: `<home>/packages/<name>.local.yaml`, and what a package looks like with them.

```
config:                  # values deep-merged over the package's config files
  sla: {first_response: 2h}
agents:                  # extra agents only this home has (paths relative to this file)
  vip-handler: my-agents/vip-handler.md
disabled_workflows: [handle-complaint]
```
The file is optional, read strictly, and never copied into the package tree (which stays
read-only and verifiable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from houston.core import yamlstrict
from houston.core.errors import SpecError
from houston.pkg.manifest import PackageManifest

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


class LocalOverrides(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    agents: dict[str, str] = Field(default_factory=dict)
    disabled_workflows: list[str] = Field(default_factory=list)


def overrides_path(packages_dir: Path, name: str) -> Path:
    return packages_dir / f"{name}.local.yaml"


def read_overrides(packages_dir: Path, name: str) -> LocalOverrides:
    path = overrides_path(packages_dir, name)
    if not path.is_file():
        return LocalOverrides()
    document = yamlstrict.load(path.read_bytes(), str(path))
    if document.data is None:
        return LocalOverrides()
    overrides: LocalOverrides = yamlstrict.validate(LocalOverrides, document)
    return overrides


def local_agent_paths(packages_dir: Path, name: str) -> dict[str, Path]:
    """Extra agents of `name` declared in its .local.yaml, as absolute paths."""
    base = packages_dir
    return {
        agent: (base / rel).resolve()
        for agent, rel in read_overrides(packages_dir, name).agents.items()
    }


def deep_merge(base: Any, over: Any) -> Any:
    """Mappings merge key by key; anything else in `over` replaces `base`."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = deep_merge(base.get(key), value)
        return merged
    return over


def package_config(package_dir: Path, manifest: PackageManifest) -> dict[str, Any]:
    """The package's own config files, parsed (YAML/JSON) or as text."""
    values: dict[str, Any] = {}
    for key, rel in manifest.config.items():
        path = package_dir / rel
        if path.suffix in CONFIG_SUFFIXES:
            values[key] = yamlstrict.load(path.read_bytes(), str(path)).data
        else:
            values[key] = path.read_text(encoding="utf-8")
    return values


def effective_config(
    packages_dir: Path, package_dir: Path, manifest: PackageManifest
) -> dict[str, Any]:
    """Package config with the home's local values merged over it."""
    overrides = read_overrides(packages_dir, manifest.name)
    unknown = sorted(set(overrides.config) - set(manifest.config))
    if unknown:
        raise SpecError(
            f"config {', '.join(unknown)} is not declared by {manifest.name}",
            source=str(overrides_path(packages_dir, manifest.name)),
            fix=f"use one of: {', '.join(sorted(manifest.config)) or '(none declared)'}",
        )
    merged: dict[str, Any] = deep_merge(package_config(package_dir, manifest), overrides.config)
    return merged
