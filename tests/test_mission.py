"""mission.yaml semantics: durations, requirements, the task graph (pure: no files)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from houston.core.errors import SpecError
from houston.core.yamlstrict import Problem
from houston.mission import (
    MissionSpec,
    TaskSpec,
    load_mission,
    parse_duration,
)


def mission(tasks: str, head: str = "name: m\n") -> str:
    return head + "tasks:\n" + tasks


def refused(text: str | bytes) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_mission(text, "m.yaml")
    return caught.value


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (0.25, 0.25),
        ("90s", 90.0),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h", 3600.0),
        ("2d", 172800.0),
        ("1d2h3m4s", 93784.0),
        (" 5m ", 300.0),
        ("31d", 31 * 86400.0),
    ],
)
def test_durations_parse_to_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (True, "cannot be true"),
        ("5 minutes", "is not a duration"),
        ("", "is not a duration"),
        ("m", "is not a duration"),
        ("5x", "is not a duration"),
        (0, "greater than zero"),
        (-3, "greater than zero"),
        ("0s", "greater than zero"),
        ("0m0s", "greater than zero"),
        (" ", "is not a duration"),
        ("\u0663s", "is not a duration"),  # Arabic-Indic three: int() reads it, we do not
        ("\uff15m", "is not a duration"),  # fullwidth five
        ("1\u0660s", "is not a duration"),
        ("1:\u0663\u0660", "is not a duration"),
        (math.inf, "greater than zero"),
        (math.nan, "greater than zero"),
        ("32d", "longer than 31 days"),
        ("1:30", "base 60"),
        (None, "is not a duration"),
    ],
)
def test_bad_durations_say_why(value: object, words: str) -> None:
    with pytest.raises(Problem, match=words) as caught:
        parse_duration(value)
    assert caught.value.fix


def test_clock_duration_fix_gives_the_seconds() -> None:
    with pytest.raises(Problem) as caught:
        parse_duration("1:30")
    assert caught.value.fix == "write 1m30s, or 90"


@pytest.mark.parametrize(
    "requirement",
    [
        "core@^0.1",
        "core@~1.2",
        "core@>=1 <2",
        "core@1.x",
        "core@*",
        "core@1.2.3",
        "a.b-c@>=1||<0.5",
    ],
)
def test_npm_ranges_are_accepted(requirement: str) -> None:
    spec = load_mission(
        f"name: m\nrequires: ['{requirement}']\n" + "tasks: [{id: a, agent: x/y}]\n", "m"
    )
    assert spec.requires == [requirement]


@pytest.mark.parametrize(
    ("requirement", "words"),
    [
        ("core", "has no version range"),
        ("core@", "is not a valid npm semver range"),
        ("core@latest", "is not a valid npm semver range"),
        ("core@^^1", "is not a valid npm semver range"),
        ("core@1.x.5", "is not a valid npm semver range"),  # npm refuses these two
        ("core@x.1", "is not a valid npm semver range"),
        ("Core@1", "is not a package name"),
        ("@1", "is not a package name"),
    ],
)
def test_bad_requirements_are_refused(requirement: str, words: str) -> None:
    error = refused(f"name: m\nrequires: ['{requirement}']\ntasks: [{{id: a, agent: x/y}}]\n")
    assert words in error.what
    assert (error.line, error.column) == (2, 12)


def test_str_and_bytes_load_alike() -> None:
    text = mission("  - {id: a, agent: core/shell}\n")
    assert load_mission(text, "m") == load_mission(text.encode(), "m")


def test_defaults_are_those_of_the_issue() -> None:
    spec = load_mission(mission("  - {id: a, agent: core/shell}\n"), "m")
    assert (spec.gate, spec.on_failure, spec.requires, spec.initializer) == (
        "none",
        "fail_fast",
        [],
        None,
    )
    assert spec.tasks[0] == TaskSpec(id="a", agent="core/shell")


def test_durations_reach_the_engine_as_seconds() -> None:
    spec = load_mission(
        mission(
            "  - {id: a, agent: core/shell, timeout: 2m}\n",
            "name: m\nbudget: {max_wall_time: 1h}\n",
        ),
        "m",
    )
    assert spec.tasks[0].timeout == 120.0
    assert spec.budget is not None and spec.budget.max_wall_time == 3600.0


def test_the_spec_is_immutable() -> None:
    spec = load_mission(mission("  - {id: a, agent: core/shell}\n"), "m")
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]


def test_python_callers_get_the_same_strictness() -> None:
    with pytest.raises(ValidationError):
        MissionSpec.model_validate(
            {"name": "m", "tasks": [{"id": "a", "agent": "x/y", "retries": "2"}]}
        )
    with pytest.raises(ValidationError):
        TaskSpec(id="Bad", agent="x/y")


def test_initializer_defaults_to_id_init_and_tasks_may_need_it() -> None:
    spec = load_mission(
        "name: m\ninitializer: {agent: core/fanout}\n"
        "tasks:\n  - {id: a, agent: x/y, needs: [init]}\n",
        "m",
    )
    assert spec.initializer is not None and spec.initializer.id == "init"


def test_an_initializer_with_its_own_id_frees_init_for_a_task() -> None:
    text = "name: m\ninitializer: {id: plan, agent: core/fanout}\ntasks: [{id: init, agent: x/y}]\n"
    assert load_mission(text, "m").tasks[0].id == "init"


def test_initializer_id_clashing_with_a_task_names_both_lines() -> None:
    text = "name: m\ninitializer: {id: a, agent: core/fanout}\ntasks:\n  - {id: a, agent: x/y}\n"
    error = refused(text)
    assert "task id 'a' is used twice (first on line 2)" in error.what
    assert (error.line, error.column) == (4, 10)


def test_needs_form_a_dag_in_any_order() -> None:
    text = mission(
        "  - {id: d, agent: x/y, needs: [b, c]}\n"
        "  - {id: b, agent: x/y, needs: [a]}\n"
        "  - {id: c, agent: x/y, needs: [a]}\n"
        "  - {id: a, agent: x/y}\n"
    )
    assert [task.id for task in load_mission(text, "m").tasks] == ["d", "b", "c", "a"]


def test_cycle_behind_a_task_that_is_not_in_it_is_named_without_it() -> None:
    text = mission(
        "  - {id: s, agent: x/y, needs: [p]}\n"
        "  - {id: p, agent: x/y, needs: [q]}\n"
        "  - {id: q, agent: x/y, needs: [p]}\n"
    )
    error = refused(text)
    assert error.what.endswith("cycle: p -> q -> p")
    assert (error.line, error.column) == (4, 33)


def test_a_long_chain_is_fine_and_a_long_cycle_is_found() -> None:
    count = 3000
    lines = ["  - {id: t0, agent: x/y}\n"]
    lines += [f"  - {{id: t{i}, agent: x/y, needs: [t{i - 1}]}}\n" for i in range(1, count)]
    assert len(load_mission(mission("".join(lines)), "m").tasks) == count
    lines[0] = f"  - {{id: t0, agent: x/y, needs: [t{count - 1}]}}\n"
    error = refused(mission("".join(lines)))
    assert error.what.startswith("tasks need each other in a cycle: t0 -> t2999 -> t2998")
    assert error.line == 3


def test_unknown_need_lists_the_tasks_when_nothing_is_close() -> None:
    error = refused(mission("  - {id: fetch, agent: x/y}\n  - {id: b, agent: x/y, needs: [zzz]}\n"))
    assert error.fix == "tasks: fetch, b"


@pytest.mark.parametrize(
    ("wrong", "right"),
    [("depends_on", "needs"), ("after", "needs"), ("args", "inputs"), ("max_retries", "retries")],
)
def test_other_tools_vocabulary_is_translated(wrong: str, right: str) -> None:
    error = refused(mission(f"  - id: a\n    agent: x/y\n    {wrong}: 1\n"))
    assert error.fix == f"did you mean '{right}'?"
    assert (error.line, error.column) == (5, 5)


@pytest.mark.parametrize(
    ("agent", "words", "fix"),
    [
        ("shell", "must be written package/agent", "e.g. core/shell"),
        ("Core/Shell", "must be lowercase", "write 'core/shell'"),
        ("core/", "is not a package/agent name", "lowercase"),
        ("core/shell/x", "is not a package/agent name", "lowercase"),
        ("../x/y", "is not a package/agent name", "lowercase"),
    ],
)
def test_agent_references(agent: str, words: str, fix: str) -> None:
    error = refused(mission(f"  - id: a\n    agent: '{agent}'\n"))
    assert words in error.what
    assert fix in error.fix


@pytest.mark.parametrize("task_id", ["a", "0", "fetch-data", "fetch_data", "x" * 64])
def test_folder_safe_ids_are_accepted(task_id: str) -> None:
    assert (
        load_mission(mission(f"  - {{id: '{task_id}', agent: x/y}}\n"), "m").tasks[0].id == task_id
    )


@pytest.mark.parametrize("task_id", ["", "-a", "_a", "a.b", "a/b", "..", "x" * 65, "é", "a b"])
def test_unsafe_ids_are_refused(task_id: str) -> None:
    assert (
        "not safe as a folder name"
        in refused(mission(f"  - {{id: '{task_id}', agent: x/y}}\n")).what
    )


def test_budget_limits_are_sane() -> None:
    assert (
        "at least 1"
        in refused(
            mission("  - {id: a, agent: x/y}\n", "name: m\nbudget: {max_concurrency: 0}\n")
        ).what
    )
    assert (
        "at most 1024"
        in refused(
            mission("  - {id: a, agent: x/y}\n", "name: m\nbudget: {max_concurrency: 5000}\n")
        ).what
    )
    assert (
        "expected a number"
        in refused(mission("  - {id: a, agent: x/y}\n", "name: m\nbudget: {max_cost: .inf}\n")).what
    )
    assert "at most 100" in refused(mission("  - {id: a, agent: x/y, retries: 101}\n")).what


def test_name_limits() -> None:
    assert "must not be empty" in refused(mission("  - {id: a, agent: x/y}\n", "name: ''\n")).what
    assert (
        "longer than 200"
        in refused(mission("  - {id: a, agent: x/y}\n", f"name: {'n' * 201}\n")).what
    )


def test_windows_line_endings_load_with_the_same_positions() -> None:
    text = mission("  - id: a\n    agent: core/shell\n    timeout: soon\n")
    unix, windows = refused(text), refused(text.replace("\n", "\r\n").encode())
    assert (windows.line, windows.column, windows.what) == (unix.line, unix.column, unix.what)
    assert load_mission(mission("  - {id: a, agent: x/y}\n").replace("\n", "\r\n"), "m").tasks


def test_long_values_are_cut_short_in_messages() -> None:
    error = refused(mission(f"  - {{id: '{'A' * 5000}', agent: x/y}}\n"))
    assert len(error.what) < 200
    assert "..." in error.what


def test_a_valid_text_is_checked_once_per_process_and_errors_always_raise() -> None:
    text = "name: once\ntasks:\n  - {id: a, agent: core/shell}\n"
    first = load_mission(text, "a.yaml")
    assert load_mission(text.encode(), "b.yaml") is first
    assert load_mission(text.replace("once", "twice"), "a.yaml") is not first
    bad = "name: bad\ntasks:\n  - {id: a, agent: core/shell, needs: [zz]}\n"
    for _ in range(2):
        assert refused(bad).line == 3
