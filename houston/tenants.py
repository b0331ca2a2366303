"""The tenants overlay of deploy/k8s from one file: `teams.yaml` -> one folder per team.

Kustomize cannot loop over a list, so "one namespace per team" needs one kustomization
per team. Rather than asking whoever adds a team to copy a folder and edit a listing,
`teams.yaml` names every team and its figures, and `render_tenants` turns it into the
files kustomize reads: `teams/<name>/kustomization.yaml` for each team (namespace,
ResourceQuota figures, Houston's budget ceilings and Host allow-list) and the overlay's
`kustomization.yaml` listing them. The rendered files are committed (so `kubectl apply
-k` works without Houston) and marked as generated; `houston tenants render --check`
(run by the tests) fails when they differ from teams.yaml.

Pure: text in, {relative path: text} out.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from houston.core import yamlstrict

GENERATED = "# Generated from teams.yaml by `houston tenants render`: edit teams.yaml instead.\n"
DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,40}[a-z0-9])?$")
# The ResourceQuota every team gets unless its entry says otherwise (keys of spec.hard).
DEFAULT_QUOTA: dict[str, str] = {
    "requests.cpu": "2",
    "requests.memory": "4Gi",
    "limits.cpu": "4",
    "limits.memory": "8Gi",
    "requests.storage": "20Gi",
    "persistentvolumeclaims": "2",
    "pods": "10",
}
QuotaValue = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|[KMGTPE]i?)?$")]


class Budget(BaseModel):
    """The team's BudgetQuota: ceilings on every mission's budget."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    max_tokens: Annotated[int, Field(ge=0)] | None = None
    max_cost: Annotated[float, Field(ge=0)] | None = None
    max_concurrency: Annotated[int, Field(ge=1)] | None = None


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    budget: Budget = Budget()
    quota: dict[str, QuotaValue] = {}


class Teams(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, title="teams.yaml")
    teams: dict[str, Team]


def load_teams(text: str, source: str) -> Teams:
    """teams.yaml, checked: SpecError (file:line) for a bad name, key or figure."""
    doc = yamlstrict.load(text, source)
    teams = yamlstrict.validate(Teams, doc)
    for name, team in teams.teams.items():
        if not DNS_LABEL.match(name):
            raise doc.error(
                ("teams", name),
                f"team name {name!r} is not a DNS label",
                "use lowercase letters, digits and '-', starting with a letter "
                "(at most 42 characters: the namespace is houston-NAME)",
                at_key=True,
            )
        unknown = sorted(set(team.quota) - set(DEFAULT_QUOTA))
        if unknown:
            raise doc.error(
                ("teams", name, "quota", unknown[0]),
                f"unknown quota key {unknown[0]!r}",
                f"use one of: {', '.join(DEFAULT_QUOTA)}",
                at_key=True,
            )
    if not teams.teams:
        raise doc.error(("teams",), "no team is listed", "add one entry under teams:")
    return teams


def render_tenants(teams: Teams) -> dict[str, str]:
    """{path relative to the overlay folder: its text} for every generated file."""
    files = {"kustomization.yaml": _listing(sorted(teams.teams))}
    for name, team in sorted(teams.teams.items()):
        files[f"teams/{name}/kustomization.yaml"] = _team(name, team)
    return files


def _listing(names: list[str]) -> str:
    lines = [
        GENERATED,
        "# One namespace per team (the seed's Factor XII Pattern 4).\n",
        "apiVersion: kustomize.config.k8s.io/v1beta1\n",
        "kind: Kustomization\n",
        "resources:\n",
        *(f"  - teams/{name}\n" for name in names),
    ]
    return "".join(lines)


def _team(name: str, team: Team) -> str:
    namespace = f"houston-{name}"
    literals = _config_literals(namespace, team)
    quota = {**DEFAULT_QUOTA, **team.quota}
    lines = [
        GENERATED,
        f"# Team {name}.\n",
        "apiVersion: kustomize.config.k8s.io/v1beta1\n",
        "kind: Kustomization\n",
        f"namespace: {namespace}\n",
        "resources:\n",
        "  - ../../tenant\n",
        "configMapGenerator:\n",
        "  - name: houston-config\n",
        "    behavior: merge\n",
        "    literals:\n",
        *(f"      - {json.dumps(literal)}\n" for literal in literals),
        "patches:\n",
        "  - target:\n",
        "      kind: ResourceQuota\n",
        "    patch: |-\n",
        "      - op: replace\n",
        "        path: /spec/hard\n",
        "        value:\n",
        *(f"          {key}: {json.dumps(value)}\n" for key, value in quota.items()),
    ]
    return "".join(lines)


def _config_literals(namespace: str, team: Team) -> list[str]:
    """The team's houston-config entries: the Service's host names and budget ceilings."""
    hosts = ",".join(
        [
            "houston",
            f"houston.{namespace}",
            f"houston.{namespace}.svc",
            f"houston.{namespace}.svc.cluster.local",
        ]
    )
    budget = {
        "HOUSTON_BUDGET_MAX_TOKENS": team.budget.max_tokens,
        "HOUSTON_BUDGET_MAX_COST": team.budget.max_cost,
        "HOUSTON_BUDGET_MAX_CONCURRENCY": team.budget.max_concurrency,
    }
    return [
        f"HOUSTON_ALLOWED_HOSTS={hosts}",
        *(f"{key}={_number(value)}" for key, value in budget.items() if value is not None),
    ]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def stale_teams(existing: list[str], teams: Teams) -> list[str]:
    """Team folders on disk that teams.yaml no longer lists (to be removed)."""
    return sorted(set(existing) - set(teams.teams))
