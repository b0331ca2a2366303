"""The llm runner against a small real OpenAI-compatible server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.openai_stub import KNOWN_MODEL, WORDS, FakeOpenAI, openai_stub

from houston.core.errors import RunnerError
from houston.runners import Job, Outcome, get_runner
from houston.runners.llm import settings_for


@pytest.fixture
def server() -> Iterator[str]:
    with openai_stub() as url:
        yield url


class Ctx:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.inputs = job.inputs
        self.prompt = job.prompt
        self.reports: list[int] = []
        self.splits: list[dict[str, Any]] = []
        self.needs: dict[str, Any] = {}
        self.mission_context = ""
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.work_dir = Path(job.attempt_dir)

    def report_usage(self, tokens: int | None = 0, cost: float = 0.0, **split: Any) -> None:
        self.reports.append(tokens or 0)
        self.splits.append(split)

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        self.events.append((type_, data))


def job(tmp_path: Path, url: str, model: str = KNOWN_MODEL, **agent: Any) -> Job:
    return Job(
        mission_id="m",
        task_id="t",
        attempt=1,
        agent_ref="customer-service/x",
        agent={"name": "x", "description": "d", "llm": {"model": model}, **agent},
        prompt="You answer support tickets.",
        package_dir=str(tmp_path),
        inputs={"ticket": "I was charged twice"},
        mission_dir=str(tmp_path),
        attempt_dir=str(tmp_path),
        budget={"max_tokens": 500},
        env={
            "HOUSTON_LLM_BASE_URL": url,
            "HOUSTON_LLM_API_KEY": "sekret",
            "HOUSTON_LLM_TIMEOUT": "1",
        },
    )


def run(the_job: Job, ctx: Ctx | None = None) -> Outcome:
    return get_runner("llm").run(the_job, ctx or Ctx(the_job))  # type: ignore[arg-type]


def test_streaming_writes_tokens_and_counts_usage(
    tmp_path: Path, server: str, capfd: pytest.CaptureFixture[str]
) -> None:
    the_job = job(tmp_path, server)
    ctx = Ctx(the_job)
    outcome = run(the_job, ctx)
    assert outcome.ok and outcome.result is not None
    assert outcome.result["text"] == "".join(WORDS)
    assert outcome.result["usage"]["total_tokens"] == 40
    assert outcome.result["usage"]["estimated"] is False
    assert sum(ctx.reports) == 40
    assert capfd.readouterr().out == "".join(WORDS) + "\n"
    sent = FakeOpenAI.requests[0]
    assert sent["auth"] == "Bearer sekret"
    assert sent["body"]["stream_options"] == {"include_usage": True}
    assert "max_tokens" not in sent["body"]  # the budget is enforced from usage, not sent
    assert sent["body"]["messages"][0] == {
        "role": "system",
        "content": "You answer support tickets.",
    }
    assert "I was charged twice" in sent["body"]["messages"][1]["content"]


@pytest.mark.parametrize(
    ("model", "missing"),
    [("cut", "no finish_reason and no data: [DONE]"), ("no-done", "no data: [DONE]")],
)
def test_a_stream_cut_before_its_end_fails_the_attempt(
    tmp_path: Path, server: str, model: str, missing: str
) -> None:
    said = re.escape(f"stream was cut after {len(''.join(WORDS))} characters ({missing})")
    with pytest.raises(RunnerError, match=said):
        run(job(tmp_path, server, model=model))


def test_non_streaming_parses_json_answers(tmp_path: Path, server: str) -> None:
    the_job = job(tmp_path, server, stream=False, max_tokens=64)
    ctx = Ctx(the_job)
    outcome = run(the_job, ctx)
    assert outcome.result is not None
    assert outcome.result["data"] == {"category": "billing"}
    assert ctx.reports == [47]
    assert FakeOpenAI.requests[0]["body"]["max_tokens"] == 64


def test_unknown_model_is_a_clear_error(tmp_path: Path, server: str) -> None:
    with pytest.raises(RunnerError, match=r"unknown model 'nope'.*not found"):
        run(job(tmp_path, server, "nope"))


def test_wrong_base_url_is_a_clear_error(tmp_path: Path, server: str) -> None:
    wrong = server.removesuffix("/v1")
    with pytest.raises(RunnerError, match="no chat-completions API"):
        run(job(tmp_path, wrong))


def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(RunnerError, match="cannot reach the llm endpoint"):
        run(job(tmp_path, url))


def test_a_silent_endpoint_times_out_instead_of_hanging(tmp_path: Path, server: str) -> None:
    with pytest.raises(RunnerError, match=r"timed out|stopped answering"):
        run(job(tmp_path, server, "hang"))


def test_settings_precedence(tmp_path: Path) -> None:
    the_job = job(tmp_path, "http://mission:1/v1", base_url="http://agent:2/v1")
    assert settings_for(the_job, {}).base_url == "http://agent:2/v1"
    the_job = job(tmp_path, "http://mission:1/v1")
    assert settings_for(the_job, {"HOUSTON_LLM_BASE_URL": "http://env:3/v1"}).base_url == (
        "http://mission:1/v1"
    )
    bare = Job("m", "t", 1, "p/a", {"name": "a", "description": "d"}, "", "", {}, "", "")
    defaults = settings_for(bare, {})
    assert defaults.base_url == "http://127.0.0.1:11434/v1" and defaults.api_key is None
    assert settings_for(bare, {"HOUSTON_LLM_MODEL": "qwen"}).model == "qwen"


def test_usage_is_estimated_while_streaming_when_the_server_reports_none(
    tmp_path: Path, server: str
) -> None:
    the_job = job(tmp_path, server, "no-usage")
    ctx = Ctx(the_job)
    outcome = run(the_job, ctx)
    assert outcome.result is not None and outcome.result["usage"]["estimated"] is True
    assert len(ctx.reports) == 3  # after 32 and 64 chunks, then the final correction
    assert sum(ctx.reports) == outcome.result["usage"]["total_tokens"] > 70
