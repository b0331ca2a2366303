"""Submit-time check that every task names an agent its package has.

A mission naming `customer-service/no-such-agent` would otherwise be accepted and fail
only when an engine runs the task. When the package is there (installed in the home or
bundled) the agent must be too: the refusal names the task, the agent, the folders
searched and the agents the package does have. A package that is not installed yet is
left alone: it may be installed before an engine claims the mission.
"""

from __future__ import annotations

from pathlib import Path

from houston.agents.catalog import AgentCatalog
from houston.core.errors import NotFoundError, SpecError
from houston.core.yamlstrict_messages import closest_key
from houston.home.layout import Home
from houston.mission import MissionSpec, TaskSpec

TaskPath = tuple[str | int, ...]


def check_agents(home: Home, spec: MissionSpec, data: bytes, source: str) -> None:
    """Raise SpecError (file:line of the task's `agent:`) for an agent its package lacks."""
    catalog = AgentCatalog(home)
    folders: dict[str, Path | None] = {}  # one lookup per package, however many tasks
    checked: set[str] = set()
    for path, task in _tasks(spec):
        package = task.agent.partition("/")[0]
        if package not in folders:
            folders[package] = catalog.package_dir(package)
        folder = folders[package]
        if folder is None or task.agent in checked:
            continue
        try:
            catalog.find(task.agent)
        except NotFoundError:
            raise _unknown_agent(home, folder, path, task, data, source) from None
        checked.add(task.agent)


def _tasks(spec: MissionSpec) -> list[tuple[TaskPath, TaskSpec]]:
    found: list[tuple[TaskPath, TaskSpec]] = []
    if spec.initializer is not None:
        found.append((("initializer", "agent"), spec.initializer))
    found += [(("tasks", index, "agent"), task) for index, task in enumerate(spec.tasks)]
    return found


def known_agents(home: Home, package: str, folder: Path) -> list[str]:
    """The agents a package folder offers, its local overrides included."""
    from houston.pkg.overrides import local_agent_paths

    names = {p.stem for p in (folder / "agents").glob("*.md")}
    return sorted(names | set(local_agent_paths(home.packages, package)))


def _unknown_agent(
    home: Home, folder: Path, path: TaskPath, task: TaskSpec, data: bytes, source: str
) -> SpecError:
    from houston.core.yamlstrict import load

    package, _, name = task.agent.partition("/")
    agents = known_agents(home, package, folder)
    guess = closest_key(name, agents)
    searched = [str(folder / "agents"), str(home.packages / f"{package}.local.yaml")]
    what = (
        f"task {task.id!r} names agent {task.agent!r}, but package {package!r} has no "
        f"agent {name!r} (searched {', '.join(searched)})"
    )
    offer = f"did you mean {package}/{guess}? " if guess else ""
    listing = ", ".join(agents) if agents else "none"
    fix = f"{offer}agents of {package}: {listing}"
    return load(data, source).error(path, what, fix)
