"""customer-service's python agent: the ticket report a support team works from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


def policy_escalation(classification: dict[str, Any], thresholds: dict[str, Any]) -> str | None:
    """The rule of the thresholds that requires escalation, as text, or None."""
    urgency = classification.get("urgency")
    if urgency in (thresholds.get("always_escalate_urgency") or []):
        return f"urgency {urgency} always escalates"
    for rule in thresholds.get("escalate_when") or []:
        if (
            isinstance(rule, dict)
            and rule
            and all(classification.get(key) == value for key, value in rule.items())
        ):
            return "rule " + ", ".join(f"{k}={v}" for k, v in rule.items())
    return None


def decide(
    classification: dict[str, Any], escalation: dict[str, Any], thresholds: dict[str, Any]
) -> dict[str, Any]:
    """The final decision: the model's, raised to escalation when the rules require it."""
    rule = policy_escalation(classification, thresholds)
    model_says = bool(escalation.get("escalate"))
    final = model_says or rule is not None
    team = escalation.get("team")
    if final and not team:
        teams = thresholds.get("teams") or {}
        critical = classification.get("urgency") == "critical"
        team = (
            thresholds.get("critical_goes_to")
            if critical
            else teams.get(classification.get("category"), teams.get("other"))
        )
    if rule and model_says:
        check = f"agrees with the thresholds ({rule})"
    elif rule:
        check = f"overridden: the thresholds require escalation ({rule})"
    else:
        check = "no threshold requires escalation"
    return {
        "escalate": final,
        "team": team if final else None,
        "reason": escalation.get("reason") or "",
        "policy_check": check,
        "handover_note": escalation.get("handover_note") or "",
        "based_on": {
            key: escalation.get(key) for key in CLASS_KEYS if escalation.get(key) is not None
        },
    }


CLASS_KEYS = ("category", "urgency", "sentiment")


def followed(used: dict[str, Any], classification: dict[str, Any]) -> str:
    """What a step says it relied on, and whether that is the classification's."""
    keys = [key for key in CLASS_KEYS if used.get(key) is not None]
    if not keys:
        return "does not say which classification it followed - check it"
    said = ", ".join(f"{key} {used[key]}" for key in keys)
    differs = [key for key in keys if used[key] != classification.get(key)]
    if differs:
        return (
            f"{said} - differs from the classification's "
            + ", ".join(f"{k} {classification.get(k)}" for k in differs)
            + ": check it"
        )
    return f"{said} (as classified)"


def reply_problems(draft: dict[str, Any], rules: dict[str, Any]) -> list[str]:
    """What in the draft breaks the reply rules of validation-rules.yaml (empty: none)."""
    reply = str(draft.get("reply") or "")
    found = []
    words = len(reply.split())
    limit = rules.get("max_words")
    if isinstance(limit, int) and words > limit:
        found.append(f"{words} words, more than {limit}")
    lowered = reply.lower()
    found += [
        f"promises {phrase!r}"
        for phrase in rules.get("forbidden_promises") or []
        if str(phrase).lower() in lowered
    ]
    if rules.get("must_include_next_step") and not str(draft.get("next_step") or "").strip():
        found.append("no next step")
    return found


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in str(text).strip().splitlines()) or "> (empty)"


def render(
    inputs: dict[str, Any],
    classification: dict[str, Any],
    draft: dict[str, Any],
    decision: dict[str, Any],
    problems: list[str],
) -> str:
    c = classification
    verdict = f"YES, to {decision['team']}" if decision["escalate"] else "no"
    lines = [
        f"# Ticket {inputs.get('ticket_id', '')}: {c.get('summary', '')}".rstrip(": "),
        "",
        f"Customer: {inputs.get('customer', '')} · stated priority: {inputs.get('priority', '')}",
        "",
        "## Classification",
        "",
        f"- category: **{c.get('category')}**",
        f"- urgency: **{c.get('urgency')}**",
        f"- sentiment: **{c.get('sentiment')}**",
        "",
        f"## Draft reply (written for a {c.get('category')} ticket, {c.get('urgency')} urgency)",
        "",
        f"Followed: {followed(draft, c)}",
        "",
        _quote(draft.get("reply", "")),
        "",
        f"Next step: {draft.get('next_step', '')}",
        "",
        "Reply checks: "
        + (
            "; ".join(problems) + " - edit before sending" if problems else "within the reply rules"
        ),
        "",
        f"## Escalation: {verdict}",
        "",
        f"Rests on: {followed(decision['based_on'], c)}",
        "",
        f"Why: {decision['reason']}",
        "",
        f"Policy check: {decision['policy_check']}.",
    ]
    if decision["escalate"] and decision["handover_note"]:
        lines += ["", "Hand-over note:", "", _quote(decision["handover_note"])]
    lines += ["", "## The ticket", "", _quote(inputs.get("ticket", "")), ""]
    return "\n".join(lines)


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(
            f"inputs.{name} must be a mapping (the result data of its task), "
            f"got {type(value).__name__}"
        )
    return value


def write_report(ctx: Any) -> dict[str, Any]:
    inputs = ctx.inputs
    classification = _mapping(inputs.get("classification"), "classification")
    draft = _mapping(inputs.get("draft"), "draft")
    escalation = _mapping(inputs.get("escalation"), "escalation")
    thresholds = _mapping(inputs.get("thresholds") or {}, "thresholds")
    decision = decide(classification, escalation, thresholds)
    rules = _mapping(inputs.get("rules") or {}, "rules")
    problems = reply_problems(draft, _mapping(rules.get("reply") or {}, "rules.reply"))
    name = re.sub(r"[^a-z0-9_-]+", "-", str(inputs.get("ticket_id") or "ticket").lower())
    outputs = Path(ctx.outputs_dir)
    outputs.mkdir(parents=True, exist_ok=True)
    report = outputs / f"ticket-{name.strip('-') or 'ticket'}.md"
    report.write_text(render(inputs, classification, draft, decision, problems), encoding="utf-8")
    summary = {
        "ticket_id": inputs.get("ticket_id"),
        "classification": classification,
        "draft": draft,
        "reply_problems": problems,
        "escalation": decision,
    }
    report.with_suffix(".json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return {
        "report": f"outputs/{report.name}",
        "escalate": decision["escalate"],
        "team": decision["team"],
        "category": classification.get("category"),
    }
