"""`houston schema mission|package`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from houston.cli.main import cli, main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_mission_schema_is_json_with_help_for_editors() -> None:
    code, out, _ = run("schema", "mission")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Houston mission"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name"]
    assert set(schema["properties"]) == {
        "name",
        "description",
        "gate",
        "budget",
        "context",
        "initializer",
        "tasks",
        "on_failure",
        "crash_cap",
        "requires",
        "parameters",
        "repo",
    }
    assert all(prop.get("description") for prop in schema["properties"].values())
    task = schema["$defs"]["TaskSpec"]
    assert task["properties"]["id"]["pattern"] == "^[a-z0-9][a-z0-9_-]{0,63}$"
    assert task["properties"]["agent"]["description"]


def test_mission_schema_accepts_duration_text() -> None:
    schema = json.loads(run("schema", "mission")[1])
    task: dict[str, Any] = {"name": "m", "tasks": [{"id": "a", "agent": "x/y", "timeout": "1h30m"}]}
    jsonschema.validate(task, schema)
    task["tasks"][0]["timeout"] = "soon"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(task, schema)


def test_out_writes_the_same_schema_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "mission.schema.json"
    code, out, err = run("schema", "mission", "--out", str(target))
    assert code == 0
    assert out == ""
    assert str(target) in err
    assert json.loads(target.read_text()) == json.loads(run("schema", "mission")[1])
    assert [p.name for p in tmp_path.iterdir()] == ["mission.schema.json"]


def test_package_schema_comes_from_the_package_manifest() -> None:
    from houston.pkg import manifest

    code, out, _ = run("schema", "package")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].endswith("/2020-12/schema")
    expected = manifest.PackageManifest.model_json_schema()
    assert schema["properties"] == expected["properties"]


def test_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["schema", "workflow"])
    assert exited.value.code == 2
    assert "workflow" in capsys.readouterr().err


def test_unwritable_out_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["schema", "mission", "--out", str(tmp_path / "missing" / "s.json")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "cannot write" in err
    assert "Traceback" not in err
    assert not (tmp_path / "missing").exists()
