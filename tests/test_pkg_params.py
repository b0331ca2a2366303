"""Workflow parameters: `--set` text converted to the declared type, or refused with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.packages import cli

from houston.core.errors import PackageError, SpecError
from houston.home.layout import Home
from houston.mission import load_mission
from houston.pkg.params import ParamTypeError, check_default, convert, type_of_default
from houston.pkg.workflows import render_workflow

WORKFLOW = """\
---
name: "count to {{ n }}"
parameters:
  - {name: n, type: integer, required: true}
  - {name: ratio, default: 0.5}
  - {name: loud, default: false}
  - {name: label, type: string, default: plain}
tasks:
  - id: a
    agent: core/shell
    inputs: {n: "{{ n }}", ratio: "{{ ratio }}", loud: "{{ loud }}", label: "{{ label }}"}
---
Counts.
"""


def test_text_is_converted_to_the_declared_type() -> None:
    assert convert("3", "integer") == 3 and convert(" -12 ", "integer") == -12
    assert convert("0.25", "number") == 0.25 and convert("2", "number") == 2
    assert convert("1e3", "number") == 1000.0
    assert convert("TRUE", "boolean") is True and convert("false", "boolean") is False
    assert convert("007", "string") == "007"
    for text, kind in [
        ("three", "integer"),
        ("٣", "integer"),
        ("\uff11", "integer"),
        ("1.5", "integer"),
        ("", "integer"),
        ("nan", "number"),
        ("inf", "number"),
        ("1e999", "number"),
        ("\u0663.\u0665", "number"),
        ("yes", "boolean"),
        ("1", "boolean"),
    ]:
        with pytest.raises(ParamTypeError, match=r"is not an? "):
            convert(text, kind)  # type: ignore[arg-type]


def test_a_default_must_match_the_declared_type() -> None:
    assert [type_of_default(v) for v in (None, "x", 1, 1.5, True)] == [
        "string",
        "string",
        "integer",
        "number",
        "boolean",
    ]
    check_default(3, "number")
    check_default(None, "integer")
    with pytest.raises(ParamTypeError, match="not an integer"):
        check_default("3", "integer")
    with pytest.raises(ParamTypeError, match="not a number"):
        check_default(True, "number")


def install_counting_package(tmp_path: Path, workflow: str = WORKFLOW) -> Path:
    folder = tmp_path / "src" / "counting"
    (folder / "workflows").mkdir(parents=True)
    (folder / "package.yaml").write_text(
        "name: counting\nversion: 1.0.0\ndescription: counts\nworkflows:\n  - count\n"
    )
    (folder / "workflows" / "count.md").write_text(workflow)
    root = tmp_path / "home"
    result = cli("package", "install", str(folder), env={"HOUSTON_HOME": str(root)})
    assert result.code == 0, result.err
    return root


def test_set_values_reach_the_mission_with_their_types(tmp_path: Path) -> None:
    home = Home(install_counting_package(tmp_path))
    data, label = render_workflow(
        home, "counting/count", {"n": "3", "ratio": "2", "loud": "true", "label": "7"}
    )
    inputs = load_mission(data, label).tasks[0].inputs
    assert inputs == {"n": 3, "ratio": 2, "loud": True, "label": "7"}
    with pytest.raises(PackageError, match=r"--set loud: 'yes' is not a boolean"):
        render_workflow(home, "counting/count", {"n": "3", "loud": "yes"})


def test_a_set_value_of_the_wrong_type_exits_2_and_submits_nothing(tmp_path: Path) -> None:
    root = install_counting_package(tmp_path)
    for value in ("three", "٣"):
        result = cli(
            "run",
            "counting/count",
            "--set",
            f"n={value}",
            "--no-ui",
            env={"HOUSTON_HOME": str(root)},
        )
        assert result.code == 2, result.err
        assert f"--set n: '{value}' is not an integer" in result.err
        assert "declared as integer" in result.err and "Traceback" not in result.err
    assert not list((root / "missions").rglob("mission.yaml"))


def test_a_default_of_the_wrong_type_is_refused_at_its_line(tmp_path: Path) -> None:
    bad = WORKFLOW.replace("{name: ratio, default: 0.5}", "{name: ratio, type: number, default: x}")
    home = Home(install_counting_package(tmp_path, bad))
    with pytest.raises(SpecError, match=r"count\.md:5:42: .*'x' is not a number"):
        render_workflow(home, "counting/count", {"n": "1"})
