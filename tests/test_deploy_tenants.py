"""The tenants overlay from one file: `teams.yaml` rendered by `houston tenants render`
into one kustomization per team. The committed files are what teams.yaml renders; a new
entry renders a new namespace with its StatefulSet and volume, Service, ResourceQuota,
LimitRange, NetworkPolicy and budget ceilings, every object valid for Kubernetes 1.37;
bad entries are refused with file:line and nothing written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from helpers.k8s import K8S, KUBE_VERSION, config_of, ingress_namespaces, kustomize, of_kind

from houston.core.budget import ceiling_from
from houston.tenants import DEFAULT_QUOTA, load_teams, render_tenants

TENANTS = K8S / "overlays" / "tenants"


def houston(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "houston", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copied(tmp_path: Path) -> Path:
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    return tree / "overlays" / "tenants"


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_the_committed_overlay_is_what_teams_yaml_renders() -> None:
    done = houston("tenants", "render", "--check", str(TENANTS))
    assert done.returncode == 0, done.stdout + done.stderr
    teams = load_teams((TENANTS / "teams.yaml").read_text(), "teams.yaml")
    assert set(render_tenants(teams)) == {
        "kustomization.yaml",
        "teams/alpha/kustomization.yaml",
        "teams/beta/kustomization.yaml",
    }


def test_default_quota_is_the_tenant_quota_file() -> None:
    quota = next(yaml.safe_load_all((TENANTS / "tenant" / "quota.yaml").read_text()))
    assert quota["spec"]["hard"] == DEFAULT_QUOTA


def test_adding_a_team_is_one_entry_in_teams_yaml(tmp_path: Path) -> None:
    tenants = copied(tmp_path)
    teams = tenants / "teams.yaml"
    teams.write_text(
        teams.read_text() + '  gamma:\n    budget: {max_tokens: 5000}\n    quota: {pods: "3"}\n'
    )
    done = houston("tenants", "render", str(tenants))
    assert done.returncode == 0, done.stderr
    docs = tuple(kustomize(tenants))
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    assert [n["metadata"]["name"] for n in of_kind(docs, "Namespace")] == [
        "houston-alpha",
        "houston-beta",
        "houston-gamma",
    ]
    gamma = [d for d in docs if d["metadata"].get("namespace") == "houston-gamma"]
    kinds = {d["kind"] for d in gamma}
    assert {"StatefulSet", "Service", "ResourceQuota", "LimitRange", "ConfigMap"} <= kinds
    statefulset = next(d for d in gamma if d["kind"] == "StatefulSet")
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == [
        "ReadWriteOnce"
    ]
    isolation = [
        d for d in gamma if d["kind"] == "NetworkPolicy" and d["spec"]["podSelector"] == {}
    ]
    assert isolation and ingress_namespaces(isolation[0]) <= {"ingress-nginx", "monitoring"}
    ceiling = ceiling_from(config_of(docs, "houston-gamma"))
    assert (ceiling.max_tokens, ceiling.max_cost, ceiling.max_concurrency) == (5000, None, None)
    assert "houston.houston-gamma.svc" in config_of(docs, "houston-gamma")["HOUSTON_ALLOWED_HOSTS"]
    quota = next(d for d in gamma if d["kind"] == "ResourceQuota")["spec"]["hard"]
    assert quota == {**DEFAULT_QUOTA, "pods": "3"}
    # Taking the entry out again removes its folder and its namespace.
    teams.write_text(teams.read_text().split("  gamma:")[0])
    assert houston("tenants", "render", str(tenants)).returncode == 0
    assert not (tenants / "teams" / "gamma").exists()
    assert snapshot(tenants) == snapshot(TENANTS)


def test_check_finds_an_entry_that_was_not_rendered(tmp_path: Path) -> None:
    tenants = copied(tmp_path)
    teams = tenants / "teams.yaml"
    teams.write_text(teams.read_text().replace("max_concurrency: 5}", "max_concurrency: 6}"))
    done = houston("tenants", "render", "--check", str(tenants))
    assert done.returncode == 1
    assert "teams/alpha/kustomization.yaml" in done.stdout


@pytest.mark.parametrize(
    ("entry", "offset", "words"),
    [
        ("  Gamma_1: {}\n", 1, "not a DNS label"),
        ('  gamma:\n    quota: {cpus: "1"}\n', 2, "unknown quota key 'cpus'"),
        ("  gamma:\n    budget: {max_tokens: lots}\n", 2, "max_tokens"),
        ("  alpha: {}\n", 1, "alpha"),
    ],
)
def test_a_bad_entry_is_refused_with_its_line_and_nothing_written(
    tmp_path: Path, entry: str, offset: int, words: str
) -> None:
    tenants = copied(tmp_path)
    teams = tenants / "teams.yaml"
    line = len(teams.read_text().splitlines()) + offset
    teams.write_text(teams.read_text() + entry)
    before = snapshot(tenants)
    done = houston("tenants", "render", str(tenants))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"teams.yaml:{line}" in done.stderr and words in done.stderr, done.stderr
    assert snapshot(tenants) == before
