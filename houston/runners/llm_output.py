"""What an llm agent's answer must look like, and the result it becomes. Pure.

`output: json` asks for one JSON value; `output_schema` (a JSON Schema) asks for JSON that
validates against it. The answer is parsed (a ```json fence around it is tolerated: small
models add one) and validated; a wrong answer raises `AnswerError`, which fails the attempt
with a message saying what was wrong, so the task's `retries` apply. jsonschema is a main
dependency for this: Houston validates models' answers at run time.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"^```(?:json|JSON)?\s*\n(.*?)\n?```\s*$", re.S)


class AnswerError(ValueError):
    """The model's answer is not what the agent declared."""


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why `schema` is not a valid JSON Schema, or None."""
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return str(exc.message)
    return None


def wants_json(agent: dict[str, Any]) -> bool:
    return agent.get("output") == "json" or agent.get("output_schema") is not None


def response_format(agent: dict[str, Any]) -> dict[str, Any] | None:
    """The `response_format` of the request (OpenAI's shape), or None for free text."""
    schema = agent.get("output_schema")
    if schema is not None:
        return {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": False},
        }
    if agent.get("output") == "json":
        return {"type": "json_object"}
    return None


def format_instruction(agent: dict[str, Any]) -> str:
    """Told in the system message too: not every server honours response_format."""
    schema = agent.get("output_schema")
    if schema is not None:
        return (
            "Answer with one JSON value and nothing else. It must validate against this "
            "JSON Schema:\n```json\n" + json.dumps(schema, indent=2) + "\n```"
        )
    if agent.get("output") == "json":
        return "Answer with one JSON value and nothing else."
    return ""


def parse_answer(text: str, agent: dict[str, Any]) -> Any:
    """The answer as JSON data, checked against the agent's schema; AnswerError if not."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise AnswerError(f"the answer is not JSON ({exc}): {_short(text)}") from None
    schema = agent.get("output_schema")
    if schema is not None:
        import jsonschema

        errors = sorted(
            jsonschema.validators.validator_for(schema)(schema).iter_errors(data),
            key=lambda e: list(e.absolute_path),
        )
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(top)"
            raise AnswerError(
                f"the answer does not match output_schema at {where}: {first.message}"
            )
    return data


def _short(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def shape_result(text: str, agent: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The task's result: `text`, `data` (parsed JSON) and `meta` (model, usage, turns...).

    An initializer's `add_tasks` in a JSON object answer is lifted to the top so that it
    fans out like any other initializer's result.
    """
    result: dict[str, Any] = {"text": text, **meta}
    if wants_json(agent):
        data = parse_answer(text, agent)
    else:
        try:
            data = parse_answer(text, {})
        except AnswerError:
            return result
    result["data"] = data
    if isinstance(data, dict) and "add_tasks" in data:
        result["add_tasks"] = data["add_tasks"]
    return result
