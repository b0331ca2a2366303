"""Packages: versioned bundles of agents, workflows, patterns, config and docs (docs/packages.md).

Modules, by noun: `versions` (npm semver ranges), `resolve` (the pure resolver),
`manifest` (package.yaml), `archive` (digest + safe extraction), `build` (reproducible
archives, tree digests), `registry` (where name@range is found), `lockfile`
(houston.lock), `install` (install/remove/verify), `overrides` (<name>.local.yaml),
`workflows` (templated missions). The engine calls `ensure_requirements` before a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from houston.home.layout import Home


def ensure_requirements(
    home: Home, requires: list[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Install a mission's `requires:` from the local registries (offline) if needed.

    Returns name -> installed version. Raises PackageError naming the package, the range
    and the chain when it cannot be satisfied.
    """
    from houston.pkg.install import ensure_requirements as ensure

    return ensure(home, requires, environ)


__all__ = ["ensure_requirements"]
