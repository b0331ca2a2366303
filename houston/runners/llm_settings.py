"""Where an llm agent's model, endpoint and key come from. Pure, except that the key may
come from the file its `<key variable>_FILE` names (houston.secretfiles).

First found wins: the agent's `llm:` mapping (Houston's own key: `model`, `base_url`,
`api_key_env`, `temperature`, `max_tokens`, `stream`, `fold_system`), the same keys at the
top of the front matter (older agent files; `model` excepted: at the top it is Claude
Code's key and means sonnet | opus | haiku | inherit | a claude model id, never an OpenAI-compatible
name), the job's env (mission config), then the process environment
(`HOUSTON_LLM_BASE_URL`, `HOUSTON_LLM_MODEL`, `HOUSTON_LLM_API_KEY`, `HOUSTON_LLM_TIMEOUT`,
`HOUSTON_LLM_STREAM`, `HOUSTON_LLM_FOLD_SYSTEM`). `HOUSTON_LLM_SERVED_MODEL` (set by the
engine for the embedded model) is the model name usage records instead of the requested
one. `fold_system` puts the system prompt into the first user message, for servers whose
chat template drops system messages (the embedded model's job env sets it). Default
endpoint: a local ollama at http://127.0.0.1:11434/v1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from houston.runners import Job
from houston.secretfiles import setting

DEFAULT_BASE_URL = "http://127.0.0.1:11434/v1"
DEFAULT_MODEL = "llama3.2"
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Settings:
    base_url: str
    model: str
    api_key: str | None
    timeout: float
    stream: bool
    temperature: float | None
    max_tokens: int | None
    fold_system: bool = False
    served_model: str | None = None  # what the server really runs, when the engine knows

    @property
    def recorded_model(self) -> str:
        """The model named in usage and results: the embedded model's `local:<file>`
        (llama.cpp ignores the requested name), else the requested one."""
        return self.served_model or self.model

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def _option(agent: Mapping[str, Any], key: str) -> Any:
    own = agent.get("llm")
    if isinstance(own, Mapping) and own.get(key) is not None:
        return own[key]
    return None if key == "model" else agent.get(key)


def settings_for(job: Job, environ: Mapping[str, str] | None = None) -> Settings:
    env = {**(os.environ if environ is None else environ), **job.env}
    agent = job.agent
    key_env = str(_option(agent, "api_key_env") or "HOUSTON_LLM_API_KEY")
    timeout = float(env.get("HOUSTON_LLM_TIMEOUT") or DEFAULT_TIMEOUT)
    if job.timeout:
        timeout = min(timeout, float(job.timeout))
    stream = _option(agent, "stream")
    fold = _option(agent, "fold_system")
    # Only the agent's own cap is sent: a mission budget can exceed a model's context, and
    # some servers (vLLM) reject such a request; budgets are enforced from usage reports.
    max_tokens = _option(agent, "max_tokens")
    base_url = _option(agent, "base_url") or env.get("HOUSTON_LLM_BASE_URL") or DEFAULT_BASE_URL
    return Settings(
        base_url=str(base_url),
        model=str(_option(agent, "model") or env.get("HOUSTON_LLM_MODEL") or DEFAULT_MODEL),
        api_key=setting(key_env, env) or None,
        timeout=timeout,
        stream=env.get("HOUSTON_LLM_STREAM", "1") != "0" if stream is None else bool(stream),
        temperature=_option(agent, "temperature"),
        max_tokens=int(max_tokens) if max_tokens else None,
        fold_system=env.get("HOUSTON_LLM_FOLD_SYSTEM", "0") == "1" if fold is None else bool(fold),
        served_model=env.get("HOUSTON_LLM_SERVED_MODEL") or None,
    )
