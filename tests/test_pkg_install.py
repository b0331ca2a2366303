"""Install, remove, reinstall, verify, concurrent installs, overrides and workflows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.packages import cli, make_package

from houston.core.errors import NotFoundError, PackageError, SpecError, UsageError
from houston.home.layout import Home
from houston.pkg import ensure_requirements
from houston.pkg.build import pack_bytes, write_archive
from houston.pkg.install import install, remove, verify
from houston.pkg.lockfile import read_lock
from houston.pkg.workflows import render_workflow


def publish(
    registry: Path,
    src: Path,
    name: str,
    version: str,
    deps: list[str] | None = None,
    engines: str | None = None,
) -> None:
    folder = make_package(src, name, version, deps, engines)
    write_archive(pack_bytes(folder), registry, name, version)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    reg = tmp_path / "registry"
    src = tmp_path / "src"
    publish(reg, src, "base", "1.0.0")
    publish(reg, src, "base", "1.4.0")
    publish(reg, src, "base", "2.0.0")
    publish(reg, src, "left", "1.0.0", ["base@^1.0.0"])
    publish(reg, src, "right", "1.0.0", ["base@~1.4"])
    publish(reg, src, "top", "1.0.0", ["left@^1", "right@^1"])
    return reg


def env_for(registry: Path) -> dict[str, str]:
    return {"HOUSTON_REGISTRY": str(registry)}


def test_bundled_customer_service_installs_offline_with_dependencies(home: Home) -> None:
    report = install(home, ["customer-service@^1.2"], environ={})
    assert {(c.name, c.action) for c in report.changes} == {
        ("customer-service", "installed"),
        ("core-workflow", "installed"),
        ("communication-patterns", "installed"),
    }
    lock = read_lock(home.lockfile)
    assert lock.packages["customer-service"].version == "1.2.0"
    assert lock.packages["core-workflow"].version.startswith("2.")
    assert lock.requested == {"customer-service": "^1.2"}
    assert verify(home) == []
    tree = home.packages / "customer-service" / "1.2.0"
    assert (tree / "workflows" / "resolve-ticket.md").is_file()


def test_install_remove_reinstall_is_idempotent(home: Home, registry: Path) -> None:
    env = env_for(registry)
    first = install(home, ["top"], environ=env)
    assert read_lock(home.lockfile).versions == {
        "top": "1.0.0",
        "left": "1.0.0",
        "right": "1.0.0",
        "base": "1.4.0",
    }
    assert {c.action for c in first.changes} == {"installed"}
    lock_bytes = home.lockfile.read_bytes()
    again = install(home, ["top"], environ=env)
    assert {c.action for c in again.changes} == {"unchanged"}
    assert home.lockfile.read_bytes() == lock_bytes
    remove(home, ["top"])
    assert read_lock(home.lockfile).packages == {}
    assert sorted(p.name for p in home.packages.iterdir() if not p.name.startswith(".")) == []
    install(home, ["top"], environ=env)
    assert read_lock(home.lockfile).versions["base"] == "1.4.0"
    assert verify(home) == []


def test_remove_refuses_a_needed_dependency_and_names_the_chain(home: Home, registry: Path) -> None:
    install(home, ["top"], environ=env_for(registry))
    with pytest.raises(PackageError) as caught:
        remove(home, ["base"])
    message = str(caught.value)
    assert "cannot remove 'base'" in message
    assert "top -> right@^1 -> base@~1.4" in message or "top -> left@^1 -> base@^1.0.0" in message
    with pytest.raises(NotFoundError, match="'ghost' is not installed"):
        remove(home, ["ghost"])


def test_verify_detects_a_modified_tree_and_reinstall_repairs_it(
    home: Home, registry: Path
) -> None:
    install(home, ["left"], environ=env_for(registry))
    readme = home.packages / "base" / "1.4.0" / "README.md"
    readme.chmod(0o644)
    readme.write_text("tampered\n")
    assert verify(home) == [{"name": "base", "version": "1.4.0", "problem": "modified"}]
    report = install(home, ["left"], environ=env_for(registry))
    assert ("base", "installed") in {(c.name, c.action) for c in report.changes}
    assert verify(home) == []


def test_a_new_root_moves_a_shared_dependency_consistently(home: Home, registry: Path) -> None:
    install(home, ["left"], environ=env_for(registry))
    assert read_lock(home.lockfile).versions["base"] == "1.4.0"
    install(home, ["base@1.0.0"], environ=env_for(registry))
    assert read_lock(home.lockfile).versions == {"left": "1.0.0", "base": "1.0.0"}
    assert not (home.packages / "base" / "1.4.0").exists()
    with pytest.raises(PackageError) as caught:
        install(home, ["right"], environ=env_for(registry))
    assert "version conflict on 'base'" in str(caught.value)
    assert "right@1.0.0 -> base@~1.4" in str(caught.value)
    assert read_lock(home.lockfile).versions == {"left": "1.0.0", "base": "1.0.0"}


def test_engines_range_is_enforced_at_install(home: Home, tmp_path: Path) -> None:
    reg = tmp_path / "reg2"
    publish(reg, tmp_path / "s2", "future", "1.0.0", engines=">=99")
    with pytest.raises(PackageError, match="needs houston >=99"):
        install(home, ["future"], environ=env_for(reg))


def test_ensure_requirements_installs_then_takes_the_fast_path(home: Home, registry: Path) -> None:
    env = env_for(registry)
    assert ensure_requirements(home, ["left@^1"], env) == {"left": "1.0.0"}
    mtime = home.lockfile.stat().st_mtime_ns
    assert ensure_requirements(home, ["left@^1", "base@^1"], env) == {
        "left": "1.0.0",
        "base": "1.4.0",
    }
    assert home.lockfile.stat().st_mtime_ns == mtime
    with pytest.raises(PackageError, match="no version of 'base' satisfies '\\^7'"):
        ensure_requirements(home, ["base@^7"], env)


@pytest.mark.process
def test_two_concurrent_installs_of_overlapping_sets_end_consistent(
    tmp_path: Path, registry: Path
) -> None:
    home_dir = tmp_path / ".houston"
    env = {**os.environ, "HOUSTON_REGISTRY": str(registry)}
    argv = [sys.executable, "-m", "houston", "--home", str(home_dir), "package", "install"]
    procs = [
        subprocess.Popen([*argv, *names], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for names in (["top"], ["left", "base@^1"])
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    home = Home(home_dir)
    lock = read_lock(home.lockfile)
    assert lock.requested == {"top": "*", "left": "*", "base": "^1"}
    assert lock.versions == {"top": "1.0.0", "left": "1.0.0", "right": "1.0.0", "base": "1.4.0"}
    assert verify(home) == []
    installed = {(p.parent.name, p.name) for p in home.packages.glob("[a-z]*/*")}
    assert installed == {(n, v) for n, v in lock.versions.items()}
    assert not any((home.packages / ".tmp").iterdir())


def write_overrides(home: Home, text: str) -> None:
    (home.packages / "customer-service.local.yaml").write_text(text)


def test_workflow_renders_into_a_valid_mission_with_overrides(home: Home) -> None:
    from houston.mission import load_mission

    install(home, ["customer-service@^1.2"], environ={})
    write_overrides(home, "config:\n  defaults: {company: Acme}\n")
    data, label = render_workflow(
        home, "customer-service/resolve-ticket", {"ticket": "charged twice", "customer": "Ada"}
    )
    assert label == "customer-service@1.2.0/workflows/resolve-ticket.md"
    spec = load_mission(data, label)
    draft = next(t for t in spec.tasks if t.id == "draft")
    assert draft.inputs == {
        "ticket": "charged twice",
        "customer": "Ada",
        "classification": "{{ tasks.classify.result.data }}",
    }
    assert spec.context == "Support desk of Acme; ticket unnumbered from Ada."
    report = next(t for t in spec.tasks if t.id == "report")
    assert report.inputs["thresholds"]["always_escalate_urgency"] == ["critical"]
    assert spec.requires == ["customer-service@1.2.0"]


def test_workflow_errors(home: Home) -> None:
    install(home, ["customer-service@^1.2"], environ={})
    with pytest.raises(PackageError, match="needs parameter 'ticket'"):
        render_workflow(home, "customer-service/resolve-ticket", {})
    with pytest.raises(PackageError, match="unknown parameter colour"):
        render_workflow(home, "customer-service/resolve-ticket", {"ticket": "x", "colour": "r"})
    with pytest.raises(PackageError, match="documentation only"):
        render_workflow(home, "customer-service/proactive-outreach", {})
    with pytest.raises(NotFoundError, match="no workflow 'nope'"):
        render_workflow(home, "customer-service/nope", {})
    with pytest.raises(NotFoundError, match="'ghost' is not installed"):
        render_workflow(home, "ghost/wf", {})
    write_overrides(home, "disabled_workflows: [resolve-ticket]\n")
    with pytest.raises(PackageError, match="is disabled"):
        render_workflow(home, "customer-service/resolve-ticket", {"ticket": "x"})
    write_overrides(home, "config:\n  nope: {a: 1}\n")
    with pytest.raises(SpecError, match="config nope is not declared"):
        render_workflow(home, "customer-service/resolve-ticket", {"ticket": "x"})


def test_info_shows_local_overrides(home: Home) -> None:
    install(home, ["customer-service@^1.2"], environ={})
    write_overrides(
        home,
        "config:\n  defaults: {sla: {first_response: 1h}}\nagents:\n  vip: vip.md\n"
        "disabled_workflows: [resolve-ticket]\n",
    )
    result = cli("--home", str(home.root), "package", "info", "customer-service", "--json")
    assert result.code == 0, result
    info = json.loads(result.out)
    assert info["effective_config"]["defaults"]["sla"]["first_response"] == "1h"
    assert info["effective_config"]["defaults"]["sla"]["resolution"] == "3d"
    assert info["local"]["agents"] == {"vip": "vip.md"}
    assert info["workflows"]["resolve-ticket"]["disabled"] is True
    assert info["workflows"]["proactive-outreach"]["parameters"] is None
    assert info["installed"]["required_by"] == []


def test_catalog_sees_local_override_agents_and_the_locked_version(home: Home) -> None:
    from houston.agents.catalog import AgentCatalog

    install(home, ["customer-service@^1.2"], environ={})
    (home.packages / "my-agents").mkdir()
    (home.packages / "my-agents" / "vip.md").write_text(
        "---\nname: vip\ndescription: Handles VIP tickets.\n---\nBe extra kind.\n"
    )
    write_overrides(home, "agents:\n  vip: my-agents/vip.md\n")
    agent, folder = AgentCatalog(home).find("customer-service/vip")
    assert agent.prompt == "Be extra kind." and agent.runner_name == "llm"
    assert folder == home.packages / "customer-service" / "1.2.0"
    classifier, _ = AgentCatalog(home).find("customer-service/ticket-classifier")
    assert classifier.runner is None and "classify one customer support ticket" in classifier.prompt


def test_parse_sets() -> None:
    from houston.cli.engine import parse_sets  # `houston run PACKAGE/WORKFLOW --set k=v`

    assert parse_sets(("ticket=a=b", " customer =Ada")) == {"ticket": "a=b", "customer": "Ada"}
    with pytest.raises(UsageError, match="not key=value"):
        parse_sets(("novalue",))


def test_a_tampered_registry_archive_stops_the_install_loudly(home: Home, registry: Path) -> None:
    newest = registry / "base-2.0.0.tar.gz"
    newest.write_bytes(newest.read_bytes() + b"tampered")
    with pytest.raises(PackageError, match="sha256 mismatch"):
        install(home, ["base"], environ=env_for(registry))
    assert not home.lockfile.exists()
    install(home, ["base@^1"], environ=env_for(registry))  # the old versions are not opened
    assert read_lock(home.lockfile).versions == {"base": "1.4.0"}


def test_leftovers_of_a_dead_install_are_cleared(home: Home, registry: Path) -> None:
    stale = home.packages / ".tmp" / "base-dead"
    (stale / "tree").mkdir(parents=True)
    (stale / "tree" / "half.txt").write_text("half")
    install(home, ["base@^1"], environ=env_for(registry))
    assert not stale.exists()
    assert verify(home) == []
