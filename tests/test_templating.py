"""Result placeholders, pure: finding them, checking them, filling them."""

from __future__ import annotations

import re

import pytest

from houston.core.dag import ancestors
from houston.core.templating import (
    TemplateError,
    referenced_tasks,
    resolve_results,
    result_refs,
)

RESULTS = {"a": {"n": 5, "deep": {"list": [1, {"x": "y"}]}, "flag": True, "none": None}}


def test_a_whole_placeholder_keeps_the_type_and_text_gets_text() -> None:
    inputs = {
        "n": "{{ tasks.a.result.n }}",
        "all": "{{tasks.a.result}}",
        "text": "n={{ tasks.a.result.n }} list={{ tasks.a.result.deep.list }}",
        "flag": "is {{ tasks.a.result.flag }}, {{ tasks.a.result.none }}.",
        "nested": [{"x": "{{ tasks.a.result.deep.list.1.x }}"}],
        "other": "{{ item }} and {{ config.x }} stay",
        "plain": 3,
    }
    assert resolve_results(inputs, RESULTS) == {
        "n": 5,
        "all": RESULTS["a"],
        "text": 'n=5 list=[1, {"x": "y"}]',
        "flag": "is true, .",
        "nested": [{"x": "y"}],
        "other": "{{ item }} and {{ config.x }} stay",
        "plain": 3,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ tasks.a.result.missing }}", "has no 'missing' at result (it has: ['deep', 'flag'"),
        ("{{ tasks.a.result.deep.list.7 }}", "has no '7' at result.deep.list (it has: list)"),
        ("{{ tasks.b.result }}", "task 'b' has no accepted result"),
    ],
)
def test_a_missing_value_says_what_the_result_has(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        resolve_results({"v": text}, RESULTS)


def test_refs_are_found_where_they_sit_and_malformed_ones_are_marked() -> None:
    refs = result_refs({"a": ["x", {"b": "{{ tasks.t1.result.k }} {{ tasks.t2 }}"}]})
    assert [(r.path, r.task, r.keys) for r in refs] == [
        (("a", 1, "b"), "t1", ("k",)),
        (("a", 1, "b"), "", ()),
    ]
    assert referenced_tasks(
        {"x": "{{ tasks.b.result }}{{ tasks.a.result }}{{ tasks.b.result }}"}
    ) == ["b", "a"]


def test_ancestors_follow_needs_through_cycles_without_looping() -> None:
    needs = {"d": ["c"], "c": ["b", "a"], "b": ["a"], "a": ["d"]}
    assert ancestors("c", needs) == {"a", "b", "c", "d"}
    assert ancestors("x", needs) == set()
