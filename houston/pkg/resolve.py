"""The dependency resolver: requirements in, one version per package out.

Pure: it reads package metadata through the `Index` protocol (the registries implement
it; tests pass a dict) and never touches the disk. It picks the highest version that
satisfies every range on the way, walks dependencies transitively, backtracks to a lower
version when a later range conflicts, and when nothing works reports the first failure
found on the most natural path (highest versions first) with the chain that caused it.
Prereleases are ignored unless `prerelease=True`. A package whose `engines.houston`
range excludes the running Houston is never chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from houston.core.errors import PackageError
from houston.pkg.versions import Requirement, satisfies, sort_descending

MAX_STEPS = 20_000


@dataclass(frozen=True)
class Candidate:
    """What the resolver needs to know about one published version."""

    name: str
    version: str
    dependencies: tuple[Requirement, ...] = ()
    engines_houston: str | None = None


class Index(Protocol):
    def versions(self, name: str) -> list[str]: ...

    def candidate(self, name: str, version: str) -> Candidate: ...


@dataclass(frozen=True)
class Edge:
    """One requirement met during the walk, and who asked for it."""

    requirement: Requirement
    chain: tuple[str, ...]  # "name@version" of every requirer, root first

    def describe(self) -> str:
        return (
            " -> ".join([*self.chain, str(self.requirement)])
            if self.chain
            else (f"{self.requirement} (requested)")
        )


@dataclass
class Resolution:
    """The answer: name -> version, plus who required what (for `package info`)."""

    versions: dict[str, str] = field(default_factory=dict)
    required_by: dict[str, list[str]] = field(default_factory=dict)

    def order(self, index: Index) -> list[str]:
        """Names with dependencies before dependents (installation order)."""
        done: list[str] = []
        for name in sorted(self.versions):
            self._visit(name, index, done)
        return done

    def _visit(self, name: str, index: Index, done: list[str]) -> None:
        if name in done:
            return  # cycles were refused while resolving, so this terminates
        for dep in index.candidate(name, self.versions[name]).dependencies:
            self._visit(dep.name, index, done)
        done.append(name)


class _Failure(Exception):
    def __init__(self, error: PackageError) -> None:
        self.error = error


@dataclass
class _Search:
    index: Index
    houston_version: str
    prerelease: bool
    preferred: Mapping[str, str]
    steps: int = 0
    first_error: PackageError | None = None

    def fail(self, error: PackageError) -> _Failure:
        if self.first_error is None:
            self.first_error = error
        return _Failure(error)

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise PackageError(
                f"dependency resolution gave up after {MAX_STEPS} steps",
                fix="pin narrower ranges in the dependencies",
            )

    def choices(self, edge: Edge, constraints: list[Edge]) -> list[str]:
        name = edge.requirement.name
        known = self.index.versions(name)
        if not known:
            raise self.fail(
                PackageError(
                    f"no package named {name!r} in any registry",
                    where=edge.describe(),
                    fix="check the name, add a registry folder (HOUSTON_REGISTRY) or install it "
                    "from a folder or .tar.gz",
                )
            )
        matching = [
            v
            for v in sort_descending(known)
            if all(
                satisfies(v, c.requirement.range, prerelease=self.prerelease) for c in constraints
            )
        ]
        if not matching:
            ranges = ", ".join(c.describe() for c in constraints)
            raise self.fail(
                PackageError(
                    f"no version of {name!r} satisfies {edge.requirement.range!r} "
                    f"(available: {', '.join(sort_descending(known))})",
                    where=ranges,
                    fix="widen the range, or publish a matching version to a registry folder",
                )
            )
        pinned = self.preferred.get(name)
        if pinned in matching:
            matching.remove(pinned)
            matching.insert(0, pinned)
        return matching

    def usable(self, name: str, version: str, edge: Edge) -> Candidate:
        """The candidate, or a failure when it is unreadable or excludes this Houston."""
        # Read lazily: only versions actually tried are opened. A tampered or broken
        # archive raises PackageError straight out (never a silent fall-back to older).
        candidate = self.index.candidate(name, version)
        engines = candidate.engines_houston
        if engines is None or satisfies(self.houston_version, engines, prerelease=True):
            return candidate
        raise self.fail(
            PackageError(
                f"{name}@{version} needs houston {engines}, but this is houston "
                f"{self.houston_version}",
                where=edge.describe(),
                fix="upgrade Houston or require an older version of the package",
            )
        )


def resolve(
    requirements: Sequence[Requirement],
    index: Index,
    *,
    houston_version: str,
    prerelease: bool = False,
    preferred: Mapping[str, str] | None = None,
) -> Resolution:
    """Resolve `requirements` against `index`; raise PackageError naming the chain."""
    search = _Search(index, houston_version, prerelease, dict(preferred or {}))
    pending = [Edge(r, ()) for r in requirements]
    try:
        chosen = _solve(search, {}, {}, pending)
    except _Failure as failure:
        raise search.first_error or failure.error from None
    resolution = Resolution(versions={n: v for n, (v, _) in chosen.items()})
    for name, (_, edges) in chosen.items():
        resolution.required_by[name] = sorted(
            {e.chain[-1] if e.chain else "(requested)" for e in edges}
        )
    return resolution


_Chosen = dict[str, tuple[str, list[Edge]]]


def _solve(
    search: _Search, chosen: _Chosen, seen: dict[str, list[Edge]], pending: list[Edge]
) -> _Chosen:
    """Depth-first with backtracking; `chosen` and `seen` are copied, never shared."""
    search.tick()
    if not pending:
        return chosen
    edge, rest = pending[0], pending[1:]
    name = edge.requirement.name
    cycle = [link for link in edge.chain if link.partition("@")[0] == name]
    if cycle:
        raise search.fail(
            PackageError(
                f"dependency cycle through {name!r}",
                where=edge.describe(),
                fix="remove one of the dependencies in the chain",
            )
        )
    constraints = [*seen.get(name, []), edge]
    seen = {**seen, name: constraints}
    if name in chosen:
        version, edges = chosen[name]
        if satisfies(version, edge.requirement.range, prerelease=search.prerelease):
            return _solve(search, {**chosen, name: (version, [*edges, edge])}, seen, rest)
        raise search.fail(_conflict(name, version, edges, edge))
    last: _Failure | None = None
    for version in search.choices(edge, constraints):
        try:
            deps = search.usable(name, version, edge).dependencies
            more = [Edge(d, (*edge.chain, f"{name}@{version}")) for d in deps]
            return _solve(search, {**chosen, name: (version, [edge])}, seen, [*rest, *more])
        except _Failure as failure:
            last = failure
    assert last is not None
    raise last


def _conflict(name: str, version: str, edges: list[Edge], edge: Edge) -> PackageError:
    earlier = "; ".join(e.describe() for e in edges)
    return PackageError(
        f"version conflict on {name!r}: {edge.describe()} needs {edge.requirement.range!r}, "
        f"but {name}@{version} was chosen for {earlier}",
        where=edge.describe(),
        fix="align the ranges so that one version of the package satisfies all of them",
    )
