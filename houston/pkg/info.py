"""What `houston package list` and `houston package info` show, as JSON-able dicts.

Reads only: the lock file, installed trees, registries and local overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from houston.core import yamlstrict
from houston.core.errors import NotFoundError
from houston.home.layout import Home
from houston.pkg import archive
from houston.pkg.install import build_index, package_dir
from houston.pkg.lockfile import read_lock
from houston.pkg.manifest import PackageManifest, read_manifest
from houston.pkg.overrides import effective_config, overrides_path, read_overrides
from houston.pkg.versions import parse_requirement, sort_descending


def list_installed(home: Home) -> list[dict[str, Any]]:
    lock = read_lock(home.lockfile)
    return [
        {
            "name": name,
            "version": entry.version,
            "requested": lock.requested.get(name),
            "sha256": entry.sha256,
            "source": entry.source,
        }
        for name, entry in sorted(lock.packages.items())
    ]


def package_info(home: Home, name: str) -> dict[str, Any]:
    """The installed package with its local overrides, else the best registry version."""
    lock = read_lock(home.lockfile)
    entry = lock.packages.get(name)
    if entry is not None:
        folder = package_dir(home, name, entry.version)
        info = describe(folder, read_manifest(folder), home.packages)
        needed_by = sorted(
            n
            for n, p in lock.packages.items()
            if any(parse_requirement(d).name == name for d in p.dependencies)
        )
        info["installed"] = {
            "version": entry.version,
            "sha256": entry.sha256,
            "source": entry.source,
            "requested": lock.requested.get(name),
            "required_by": needed_by,
            "path": str(folder),
        }
        return info
    index = build_index(home)
    versions = index.versions(name)
    if not versions:
        raise NotFoundError(
            f"package {name!r} is neither installed nor in any registry",
            fix="check the name, or add a registry with HOUSTON_REGISTRY",
        )
    best = sort_descending(versions)[0]
    item = index.published(name, best)
    manifest = item.load(archive.Limits.from_env())
    info = {**_manifest_fields(manifest), "installed": None, "available": sort_descending(versions)}
    info["registry_source"] = item.label
    return info


def _manifest_fields(manifest: PackageManifest) -> dict[str, Any]:
    return {
        "name": manifest.name,
        "version": manifest.version,
        "description": manifest.description,
        "author": manifest.author,
        "license": manifest.license,
        "engines": {"houston": manifest.engines.houston},
        "dependencies": list(manifest.dependencies),
        "agents": manifest.files("agents"),
        "workflows": manifest.files("workflows"),
        "patterns": manifest.files("patterns"),
        "config": dict(manifest.config),
        "documentation": dict(manifest.documentation),
    }


def describe(folder: Path, manifest: PackageManifest, packages_dir: Path) -> dict[str, Any]:
    overrides = read_overrides(packages_dir, manifest.name)
    info = _manifest_fields(manifest)
    info["workflows"] = {
        name: {
            "path": rel,
            "disabled": name in overrides.disabled_workflows,
            "parameters": _workflow_parameters(folder / rel),
        }
        for name, rel in manifest.files("workflows").items()
    }
    info["local"] = {
        "file": str(overrides_path(packages_dir, manifest.name)),
        "exists": overrides_path(packages_dir, manifest.name).is_file(),
        "agents": dict(overrides.agents),
        "disabled_workflows": list(overrides.disabled_workflows),
        "config": dict(overrides.config),
    }
    info["effective_config"] = effective_config(packages_dir, folder, manifest)
    return info


def _workflow_parameters(path: Path) -> list[dict[str, Any]] | None:
    """Declared parameters, or None for a documentation-only workflow."""
    document, _, _ = yamlstrict.split_front_matter(path.read_bytes(), str(path))
    if document is None or not isinstance(document.data, dict):
        return None
    raw = document.data.get("parameters") or []
    return [dict(p) for p in raw if isinstance(p, dict)]
