"""What a cluster deployment needs from Houston: a token-free `/healthz`, secrets read from
mounted files (`*_FILE`), the Service's names in the Host allow-list, tenant budget
ceilings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from houston.core.budget import Limits, capped, ceiling_from
from houston.core.errors import UsageError
from houston.home.layout import Home
from houston.runners import Job
from houston.runners.llm import settings_for
from houston.secretfiles import SecretFileUnreadable, setting
from houston.server.launcher import start
from houston.server.security import load_token


def test_healthz_needs_no_token_and_accepts_any_host(home: Home) -> None:
    handle = start(home, port=0)
    try:
        # kubelet sends the pod IP as Host and no token.
        answer = httpx.get(f"{handle.base_url}/healthz", headers={"Host": "10.1.2.3:8765"})
        other = httpx.get(f"{handle.base_url}/api/missions", headers={"Host": "10.1.2.3:8765"})
    finally:
        handle.stop()
    assert answer.status_code == 200
    assert answer.text == "ok\n"  # reveals nothing
    assert other.status_code == 403  # every other path still checks Host and token


def test_healthz_says_unavailable_when_the_home_is_gone(home: Home) -> None:
    handle = start(home, port=0)
    aside = home.root / "missions-aside"
    try:
        home.missions.rename(aside)  # a volume that went away
        answer = httpx.get(f"{handle.base_url}/healthz")
    finally:
        aside.rename(home.missions)
        handle.stop()
    assert (answer.status_code, answer.text) == (503, "unavailable\n")


def test_token_comes_from_the_mounted_file(tmp_path: Path, home: Home) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-from-a-volume\n")
    token = load_token(home.run, {"HOUSTON_TOKEN_FILE": str(secret)})
    assert token == "s3cret-from-a-volume"
    assert not (home.run / "token").exists()  # nothing written beside the home


def test_server_uses_the_file_token(
    tmp_path: Path, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "token"
    secret.write_text("file-token-123")
    monkeypatch.setenv("HOUSTON_TOKEN_FILE", str(secret))
    handle = start(home, port=0)
    try:
        good = httpx.get(
            f"{handle.base_url}/api/missions", headers={"Authorization": "Bearer file-token-123"}
        )
        bad = httpx.get(
            f"{handle.base_url}/api/missions", headers={"Authorization": "Bearer other"}
        )
    finally:
        handle.stop()
    assert (good.status_code, bad.status_code) == (200, 403)


def test_a_missing_or_empty_token_file_is_a_clear_error(tmp_path: Path, home: Home) -> None:
    with pytest.raises(UsageError, match="does not exist") as missing:
        load_token(home.run, {"HOUSTON_TOKEN_FILE": str(tmp_path / "nope")})
    assert missing.value.exit_code == 2
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(UsageError, match="empty"):
        load_token(home.run, {"HOUSTON_TOKEN_FILE": str(empty)})


def test_an_unreadable_secret_file_is_an_environment_failure(tmp_path: Path) -> None:
    folder = tmp_path / "dir-not-file"
    folder.mkdir()
    with pytest.raises(SecretFileUnreadable) as caught:
        setting("HOUSTON_TOKEN", {"HOUSTON_TOKEN_FILE": str(folder)})
    assert caught.value.exit_code == 3


def test_plain_variable_wins_over_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "k"
    secret.write_text("from-file")
    env = {"X": "plain", "X_FILE": str(secret)}
    assert setting("X", env) == "plain"
    assert setting("X", {"X_FILE": str(secret)}) == "from-file"
    assert setting("X", {}) is None


def test_llm_api_key_comes_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "llm-api-key"
    secret.write_text("sk-test-abc\n")
    job = Job(
        mission_id="m",
        task_id="t",
        attempt=1,
        agent_ref="p/a",
        agent={"runner": "llm"},
        prompt="",
        package_dir="",
        inputs={},
        mission_dir="",
        attempt_dir="",
    )
    settings = settings_for(job, {"HOUSTON_LLM_API_KEY_FILE": str(secret)})
    assert settings.api_key == "sk-test-abc"
    custom = Job(**{**job.to_dict(), "agent": {"runner": "llm", "api_key_env": "TEAM_KEY"}})
    assert settings_for(custom, {"TEAM_KEY_FILE": str(secret)}).api_key == "sk-test-abc"


def test_allowed_hosts_from_the_environment_reach_the_guard(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    from houston.cli.foreground import start_ui

    monkeypatch.setenv("HOUSTON_ALLOWED_HOSTS", "houston.team.svc, houston")
    handle = start_ui(home, "127.0.0.1", 0)
    try:
        auth = {"Authorization": f"Bearer {handle.token}"}
        named = httpx.get(
            f"{handle.base_url}/api/missions", headers={**auth, "Host": "houston.team.svc:8765"}
        )
        foreign = httpx.get(
            f"{handle.base_url}/api/missions", headers={**auth, "Host": "evil.example:8765"}
        )
    finally:
        handle.stop()
    assert (named.status_code, foreign.status_code) == (200, 403)


def test_budget_ceilings_cap_missions_and_fill_missing_limits() -> None:
    ceiling = ceiling_from(
        {
            "HOUSTON_BUDGET_MAX_TOKENS": "1000",
            "HOUSTON_BUDGET_MAX_COST": "2.5",
            "HOUSTON_BUDGET_MAX_CONCURRENCY": "4",
        }
    )
    assert capped(Limits(), ceiling) == Limits(1000, 2.5, None, 4)
    assert capped(Limits(max_tokens=50, max_cost=9.0, max_wall_time=60.0), ceiling) == Limits(
        50, 2.5, 60.0, 4
    )
    assert capped(Limits(max_tokens=50), Limits()) == Limits(max_tokens=50)


@pytest.mark.parametrize("value", ["lots", "-1", "1e", ""])
def test_budget_ceiling_typos_are_refused(value: str) -> None:
    if not value:
        assert ceiling_from({"HOUSTON_BUDGET_MAX_TOKENS": value}) == Limits()
        return
    with pytest.raises(ValueError, match="HOUSTON_BUDGET_MAX_TOKENS"):
        ceiling_from({"HOUSTON_BUDGET_MAX_TOKENS": value})
