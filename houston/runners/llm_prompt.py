"""The messages an llm agent is sent.

System message: the agent's body, then the patterns it names (`patterns:`, from its
package), then the package config it names (`config:`, with the home's local overrides),
then how to answer (`output` / `output_schema`). User message: the task's inputs, the
results of the tasks it needs, and the mission context. `compose_messages` is pure;
`package_knowledge` reads the package's files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from houston.core.errors import RunnerError
from houston.runners import Job
from houston.runners.llm_output import format_instruction


def _names(agent: Mapping[str, Any], key: str) -> list[str]:
    value = agent.get(key) or []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def package_knowledge(job: Job) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """([(pattern name, text)], {config name: value}) that the agent names."""
    patterns, configs = _names(job.agent, "patterns"), _names(job.agent, "config")
    if not patterns and not configs:
        return [], {}
    from houston.home.layout import Home
    from houston.pkg.manifest import MANIFEST_FILE, read_manifest
    from houston.pkg.overrides import effective_config

    folder = Path(job.package_dir)
    manifest = read_manifest(folder)
    files = manifest.files("patterns")
    texts = []
    for name in patterns:
        if name not in files:
            raise RunnerError(
                f"agent {job.agent_ref} names pattern {name!r}, which its package does not declare",
                where=str(folder / MANIFEST_FILE),
                fix=f"declared patterns: {', '.join(sorted(files)) or '(none)'}",
            )
        texts.append((name, (folder / files[name]).read_text(encoding="utf-8")))
    values = {}
    if configs:
        home_packages = Home.of_mission(Path(job.mission_dir)).packages
        effective = effective_config(home_packages, folder, manifest)
        for name in configs:
            if name not in effective:
                raise RunnerError(
                    f"agent {job.agent_ref} names config {name!r}, which its "
                    "package does not declare",
                    where=str(folder / MANIFEST_FILE),
                    fix=f"declared config: {', '.join(sorted(effective))}",
                )
            values[name] = effective[name]
    return texts, values


def digest(result: Any) -> Any:
    """What of a need's result a model reads: an llm answer's data or text, else all of it."""
    if isinstance(result, dict) and "model" in result and "text" in result:
        return result["data"] if "data" in result else result["text"]
    return result


def _json_block(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n```"


def system_message(
    body: str, patterns: list[tuple[str, str]], config: Mapping[str, Any], agent: Mapping[str, Any]
) -> str:
    parts = [body.strip()] if body.strip() else []
    for name, text in patterns:
        parts.append(f"## Pattern: {name}\n\n{text.strip()}")
    for name, value in config.items():
        shown = value if isinstance(value, str) else yaml.safe_dump(value, sort_keys=False)
        parts.append(f"## Config: {name}\n\n```yaml\n{shown.strip()}\n```")
    if instruction := format_instruction(dict(agent)):
        parts.append(instruction)
    return "\n\n".join(parts)


def user_message(inputs: Mapping[str, Any], needs: Mapping[str, Any], context: str) -> str:
    parts = []
    if inputs:
        parts.append("## Inputs\n\n" + _json_block(inputs))
    if needs:
        shown = "\n\n".join(
            f"### {task}\n\n{_json_block(digest(result))}" for task, result in needs.items()
        )
        parts.append("## Results of the tasks this one needs\n\n" + shown)
    if context.strip():
        parts.append("## Mission context\n\n" + context.strip())
    return "\n\n".join(parts) or "Begin."


def compose_messages(
    job: Job,
    needs: Mapping[str, Any],
    context: str,
    patterns: list[tuple[str, str]],
    config: Mapping[str, Any],
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = system_message(job.prompt, patterns, config, job.agent)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user_message(job.inputs, needs, context)})
    return messages


def fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with the system prompt put at the top of the first user message.

    For chat templates that have no system role and drop it silently (llama.cpp's `gemma`
    format): the agent's body, patterns and config would otherwise never reach the model."""
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{system}\n\n{message.get('content') or ''}"
            return rest
    return [{"role": "user", "content": system}, *rest]
