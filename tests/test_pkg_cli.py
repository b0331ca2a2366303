"""Every `houston package` command, its --json output and its error paths (exit 2)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers.packages import cli, make_package

from houston.core.errors import SpecError
from houston.pkg.manifest import load_manifest, read_manifest

REPO_PACKAGES = Path(__file__).resolve().parent.parent / "packages"

# customer-service 1.2.0 as the Factor XII pattern writes it (Houston's keys beside the
# seed's): it must load as written.
FACTOR_XII_EXAMPLE = """\
# The Factor XII example package, as the pattern writes it; Houston's keys (engines, and
# the agents, workflows, patterns and docs it adds) sit beside the seed's entries.
name: customer-service
version: 1.2.0
description: Customer service workflows and patterns
author: Your Team
license: MIT
engines:
  houston: ">=0.1"

dependencies:
  - core-workflow@^2.0.0
  - communication-patterns@^1.5.0

agents:
  - agents/handle-inquiry.md
  - agents/process-refund.md
  - agents/escalate-complaint.md
  - agents/follow-up-satisfaction.md
  - agents/ticket-classifier.md
  - agents/write-report.md

workflows:
  - workflows/resolve-ticket.md
  - workflows/handle-escalation.md
  - workflows/proactive-outreach.md

patterns:
  - patterns/empathetic-resolution.md
  - patterns/proactive-compensation.md
  - patterns/satisfaction-recovery.md

config:
  validation_rules: config/validation-rules.yaml
  escalation_thresholds: config/escalation-thresholds.yaml
  defaults: config/default-settings.yaml

documentation:
  getting_started: docs/getting-started.md
  best_practices: docs/best-practices.md
  troubleshooting: docs/troubleshooting.md
"""


def test_factor_xii_example_loads_as_written() -> None:
    manifest = load_manifest(FACTOR_XII_EXAMPLE, "package.yaml")
    assert (manifest.name, manifest.version) == ("customer-service", "1.2.0")
    assert [str(r) for r in manifest.requirements] == [
        "core-workflow@^2.0.0",
        "communication-patterns@^1.5.0",
    ]
    assert manifest.files("agents")["handle-inquiry"] == "agents/handle-inquiry.md"
    assert manifest.config["escalation_thresholds"] == "config/escalation-thresholds.yaml"
    bundled = read_manifest(REPO_PACKAGES / "customer-service")
    assert bundled.model_dump(exclude={"engines"}) == manifest.model_dump(exclude={"engines"})


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("name: x\nversion: 1.10\n", ":2:10", "text"),
        ("name: x\nversion: 1.0.0\nlicence: MIT\n", ":3:1", "licence"),
        ("name: x\nversion: 1.0.0\ndependencies: [core@^^1]\n", ":3:", "semver range"),
        ("name: x\nversion: 1.0.0\nengines: {houston: banana}\n", ":3:", "npm semver range"),
        ("name: Bad\nversion: 1.0.0\n", ":1:7", "name"),
        ("name: x\nversion: 1.0.0\nconfig: {a: ../../etc/passwd}\n", ":3:", "relative path"),
        ("name: x\nname: y\nversion: 1.0.0\n", ":2:1", "name"),
    ],
)
def test_manifest_errors_point_at_file_line_column(text: str, where: str, what: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_manifest(text, "package.yaml")
    message = str(caught.value)
    assert message.startswith("package.yaml" + where), message
    assert what in message


def home_args(tmp_path: Path) -> list[str]:
    return ["--home", str(tmp_path / ".houston")]


def test_build_writes_a_reproducible_archive_and_digest(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "src", "alpha", "1.0.0")
    out = tmp_path / "dist"
    first = cli("package", "build", str(folder), "--out", str(out), "--json")
    assert first.code == 0, first
    data = json.loads(first.out)
    archive = out / "alpha-1.0.0.tar.gz"
    assert data["archive"] == str(archive)
    assert data["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    sidecar = (out / "alpha-1.0.0.tar.gz.sha256").read_text()
    assert sidecar == f"{data['sha256']}  alpha-1.0.0.tar.gz\n"
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"litter")
    second = cli("package", "build", str(folder), "--out", str(out), "--json")
    assert json.loads(second.out)["sha256"] == data["sha256"]


def test_build_refuses_missing_files_and_bad_manifests(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "src", "alpha", "1.0.0")
    (folder / "agents" / "hello.md").unlink()
    result = cli("package", "build", str(folder), "--out", str(tmp_path / "dist"))
    assert result.code == 2 and "agents/hello.md" in result.err
    (folder / "package.yaml").write_text("name: alpha\nversion: one\n")
    result = cli("package", "build", str(folder), "--out", str(tmp_path / "dist"))
    assert result.code == 2 and "package.yaml:2:" in result.err
    assert not (tmp_path / "dist").exists()


def test_publish_then_install_by_range_list_info_verify_remove(tmp_path: Path) -> None:
    src = tmp_path / "src"
    registry = tmp_path / "reg"
    for version in ("1.0.0", "1.2.0", "2.0.0"):
        result = cli(
            *home_args(tmp_path),
            "package",
            "publish",
            str(make_package(src, "alpha", version)),
            "--registry",
            str(registry),
        )
        assert result.code == 0, result
    env = {"HOUSTON_REGISTRY": str(registry)}
    installed = cli(*home_args(tmp_path), "package", "install", "alpha@^1", "--json", env=env)
    assert installed.code == 0, installed
    assert json.loads(installed.out) == [
        {
            "name": "alpha",
            "version": "1.2.0",
            "action": "installed",
            "source": f"archive:{registry}/alpha-1.2.0.tar.gz",
        }
    ]
    listing = json.loads(cli(*home_args(tmp_path), "package", "list", "--json").out)
    assert [(r["name"], r["version"], r["requested"]) for r in listing] == [
        ("alpha", "1.2.0", "^1")
    ]
    info = json.loads(cli(*home_args(tmp_path), "package", "info", "alpha", "--json").out)
    assert info["installed"]["version"] == "1.2.0" and info["agents"] == {
        "hello": "agents/hello.md"
    }
    verified = cli(*home_args(tmp_path), "package", "verify", "--json")
    assert verified.code == 0 and json.loads(verified.out) == {"ok": True, "problems": []}
    removed = cli(*home_args(tmp_path), "package", "remove", "alpha")
    assert removed.code == 0 and "removed    alpha@1.2.0" in removed.out
    assert cli(*home_args(tmp_path), "package", "list").out.strip() == "no packages installed"


def test_publish_refuses_to_overwrite_a_version(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "src", "alpha", "1.0.0")
    dist = tmp_path / "dist"
    assert cli("package", "build", str(folder), "--out", str(dist)).code == 0
    registry = tmp_path / "reg"
    archive = dist / "alpha-1.0.0.tar.gz"
    args = [*home_args(tmp_path), "package", "publish", str(archive), "--registry", str(registry)]
    assert cli(*args).code == 0
    assert cli(*args).code == 0  # same bytes: idempotent
    (folder / "README.md").write_text("changed\n")
    assert cli("package", "build", str(folder), "--out", str(dist)).code == 0
    again = cli(*args)
    assert again.code == 2 and "already published" in again.err


def test_publishing_a_folder_never_replaces_a_published_version(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "src", "alpha", "1.0.0")
    registry = tmp_path / "reg"
    args = [*home_args(tmp_path), "package", "publish", str(folder), "--registry", str(registry)]
    assert cli(*args).code == 0
    published = (registry / "alpha-1.0.0.tar.gz").read_bytes()
    assert cli(*args).code == 0  # the same bytes again: a no-op
    (folder / "README.md").write_text("changed\n")
    again = cli(*args)
    assert again.code == 2 and "already published" in again.err and "bump the version" in again.err
    assert (registry / "alpha-1.0.0.tar.gz").read_bytes() == published
    digest = hashlib.sha256(published).hexdigest()
    assert (registry / "alpha-1.0.0.tar.gz.sha256").read_text().split()[0] == digest
    assert sorted(p.name for p in registry.iterdir()) == [
        "alpha-1.0.0.tar.gz",
        "alpha-1.0.0.tar.gz.sha256",
    ]
    (registry / "alpha-1.0.0.tar.gz.sha256").unlink()  # a publish cut short before its digest
    (folder / "README.md").write_text("# alpha\n")
    assert cli(*args).code == 0
    assert (registry / "alpha-1.0.0.tar.gz.sha256").read_text().split()[0] == digest


def test_install_from_folder_and_archive(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "src", "alpha", "1.0.0")
    result = cli(*home_args(tmp_path), "package", "install", str(folder))
    assert result.code == 0 and "installed  alpha@1.0.0" in result.out
    assert (
        cli(
            "package",
            "build",
            str(make_package(tmp_path / "s2", "beta", "0.3.0")),
            "--out",
            str(tmp_path / "dist"),
        ).code
        == 0
    )
    result = cli(
        *home_args(tmp_path), "package", "install", str(tmp_path / "dist" / "beta-0.3.0.tar.gz")
    )
    assert result.code == 0 and "installed  beta@0.3.0" in result.out
    assert "unchanged  alpha@1.0.0" in result.out


def test_verify_fails_with_exit_2_naming_the_package(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "src", "alpha", "1.0.0")
    assert cli(*home_args(tmp_path), "package", "install", str(folder)).code == 0
    extra = tmp_path / ".houston" / "packages" / "alpha" / "1.0.0" / "extra.txt"
    extra.write_text("planted\n")
    result = cli(*home_args(tmp_path), "package", "verify")
    assert result.code == 2 and "modified  alpha@1.0.0" in result.out
    assert "alpha@1.0.0" in result.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["install", "nosuch@^1"], "no package named 'nosuch'"),
        (["install", "customer-service@^9"], "no version of 'customer-service' satisfies '^9'"),
        (["install", "customer-service@banana"], "not an npm semver range"),
        (["install", "./missing-folder"], "no such package folder or archive"),
        (["remove", "ghost"], "'ghost' is not installed"),
        (["info", "ghost"], "'ghost' is neither installed nor in any registry"),
    ],
)
def test_error_paths_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    cli(*home_args(tmp_path), "package", "list")
    (tmp_path / ".houston").mkdir(exist_ok=True)
    if args[0] == "remove":
        assert (
            cli(
                *home_args(tmp_path),
                "package",
                "install",
                str(make_package(tmp_path / "src", "alpha", "1.0.0")),
            ).code
            == 0
        )
    result = cli(*home_args(tmp_path), "package", *args)
    assert result.code == 2, result
    assert expected in result.err
    assert "Traceback" not in result.err


def test_conflict_error_names_package_range_and_chain(tmp_path: Path) -> None:
    registry = tmp_path / "reg"
    for name, version, deps in [
        ("base", "1.0.0", []),
        ("base", "2.0.0", []),
        ("one", "1.0.0", ["base@^1"]),
        ("two", "1.0.0", ["base@^2"]),
    ]:
        folder = make_package(tmp_path / "src", name, version, deps)
        assert cli("package", "build", str(folder), "--out", str(registry)).code == 0
    env = {"HOUSTON_REGISTRY": str(registry)}
    result = cli(*home_args(tmp_path), "package", "install", "one", "two", env=env)
    assert result.code == 2
    assert "version conflict on 'base'" in result.err
    assert "two@1.0.0 -> base@^2" in result.err and "one@1.0.0 -> base@^1" in result.err


def test_info_of_a_registry_package_that_is_not_installed(tmp_path: Path) -> None:
    result = cli(*home_args(tmp_path), "package", "info", "customer-service", "--json")
    assert result.code == 0, result
    info = json.loads(result.out)
    assert info["installed"] is None and info["version"] == "1.2.0"
    assert info["dependencies"] == ["core-workflow@^2.0.0", "communication-patterns@^1.5.0"]


def test_schema_package_prints_the_manifest_schema(tmp_path: Path) -> None:
    result = cli("schema", "package")
    assert result.code == 0
    schema = json.loads(result.out)
    assert {"name", "version", "dependencies", "engines"} <= set(schema["properties"])
