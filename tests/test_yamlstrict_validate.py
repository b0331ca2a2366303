"""`yamlstrict.validate`: pydantic errors become one SpecError at the right node, in words."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from houston.core.errors import SpecError
from houston.core.yamlstrict import Problem, load, validate


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _even(value: int) -> int:
    if value % 2:
        raise Problem(f"{value} is odd", "use an even number")
    return value


class Limits(Strict):
    max_tokens: int | None = Field(default=None, ge=0)
    ratio: float = Field(default=0.5, le=1)


class Step(Strict):
    id: str
    enabled: bool = True
    limits: Limits | None = None
    size: Annotated[int, AfterValidator(_even)] = 2
    either: int | str = 0


class Plan(Strict):
    model_config = ConfigDict(title="Test plan")

    name: str
    version: str = "1"
    mode: Literal["fast", "slow"] = "fast"
    steps: list[Step] = []
    named: dict[str, Step] = {}
    tags: list[str] = []


def refused(text: str, model: type[BaseModel] = Plan, **kwargs: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        validate(model, load(text, "plan.yaml"), **kwargs)
    return caught.value


def test_valid_document_returns_the_model() -> None:
    plan = validate(Plan, load("name: p\nsteps:\n  - id: a\n    size: 4\n", "plan.yaml"))
    assert isinstance(plan, Plan)
    assert plan.steps[0].size == 4


def test_unknown_key_suggests_the_closest_allowed_key() -> None:
    error = refused("name: p\nsteps:\n  - id: a\n    enabeld: false\n")
    assert (error.line, error.column) == (4, 5)
    assert error.what == "unknown key 'enabeld' in steps[0]"
    assert error.fix == "did you mean 'enabled'?"


def test_unknown_key_differing_in_case_is_matched() -> None:
    assert refused("Name: p\n").fix == "did you mean 'name'?"


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    error = refused("name: p\nzzz: 1\n")
    assert error.fix == "allowed keys here: name, version, mode, steps, named, tags"


def test_synonyms_beat_difflib() -> None:
    error = refused("name: p\nstages: []\n", synonyms={"stages": "steps"})
    assert error.fix == "did you mean 'steps'?"


def test_synonym_to_a_key_not_allowed_here_is_ignored() -> None:
    error = refused("name: p\nstages: []\n", synonyms={"stages": "nowhere"})
    assert "did you mean 'nowhere'" not in error.fix


def test_unknown_key_inside_a_dict_of_models_still_gets_a_suggestion() -> None:
    error = refused("name: p\nnamed:\n  first:\n    idd: a\n")
    assert error.what == "unknown key 'idd' in named.first"
    assert error.fix == "did you mean 'id'?"


def test_a_typo_wins_over_the_missing_key_it_causes() -> None:
    error = refused("nmae: p\n")
    assert error.what == "unknown key 'nmae'"


def test_missing_key_points_at_its_mapping() -> None:
    error = refused("name: p\nsteps:\n  - enabled: true\n")
    assert (error.line, error.column) == (3, 5)
    assert error.what == "missing required key 'id' in steps[0]"
    assert error.fix == "add 'id: ...'"


def test_version_written_as_a_number_says_quote_it() -> None:
    error = refused("name: p\nversion: 1.10\n")
    assert (error.line, error.column) == (2, 10)
    assert error.what == "version: expected text, got the number 1.1 (written 1.10)"
    assert error.fix == 'quote it: "1.10" (YAML reads 1.10 as the number 1.1)'


def test_boolean_given_for_text_says_quote_it() -> None:
    error = refused("name: true\n")
    assert error.what == "name: expected text, got the boolean true"
    assert error.fix == 'quote it: "true"'


def test_yes_for_a_boolean_explains_it_is_text() -> None:
    error = refused("name: p\nsteps:\n  - id: a\n    enabled: yes\n")
    assert error.what == "steps[0].enabled: expected true or false, got the text 'yes'"
    assert "'yes' is text here, not a boolean" in error.fix


def test_literal_error_names_the_choices() -> None:
    error = refused("name: p\nmode: off\n")
    assert error.what.startswith("mode: the text 'off' is not one of 'fast' or 'slow'")
    assert error.fix == "use one of 'fast' or 'slow'"


def test_bounds_are_said_in_words() -> None:
    error = refused("name: p\nsteps:\n  - id: a\n    limits: {max_tokens: -1}\n")
    assert (error.line, error.column) == (4, 26)
    assert error.what == "steps[0].limits.max_tokens: must be at least 0, got -1"
    assert refused("name: p\nsteps: [{id: a, limits: {ratio: 2}}]\n").what.endswith(
        "must be at most 1.0, got 2"
    )


def test_problem_raised_by_a_validator_carries_its_fix() -> None:
    error = refused("name: p\nsteps:\n  - id: a\n    size: 3\n")
    assert (error.line, error.column) == (4, 11)
    assert error.what == "steps[0].size: 3 is odd"
    assert error.fix == "use an even number"


def test_union_member_names_do_not_leak_into_the_path() -> None:
    error = refused("name: p\nsteps:\n  - id: a\n    either: [1]\n")
    assert error.what.startswith("steps[0].either:")
    assert (error.line, error.column) == (4, 13)


def test_the_first_problem_in_the_file_is_reported_and_the_rest_counted() -> None:
    error = refused("name: p\nsteps:\n  - id: 1\n  - id: a\n    enabled: maybe\nmode: x\n")
    assert error.line == 3
    assert error.what.endswith("(and 2 more problems after this one)")


def test_list_where_a_mapping_is_expected() -> None:
    error = refused("name: p\nsteps:\n  - [a, b]\n")
    assert error.what == "steps[0]: expected a mapping (key: value), got a list"


def test_text_where_a_list_is_expected() -> None:
    error = refused("name: p\ntags: a, b\n")
    assert error.what == "tags: expected a list, got the text 'a, b'"
    assert "[a, b]" in error.fix


def test_clock_and_leading_zero_numbers_get_specific_fixes() -> None:
    assert "base 60" in refused("name: p\nsteps: [{id: a, size: 1:20}]\n").fix
    assert refused("name: p\nsteps: [{id: a, size: 012}]\n").fix.endswith("zeros: 12")


def test_empty_document_and_wrong_top_level_are_refused() -> None:
    assert refused("").what == "the document is empty"
    assert "Test plan" in refused("# nothing\n").fix
    error = refused("- a\n- b\n")
    assert error.what == "expected a mapping (key: value lines) at the top, got a list"
    assert (error.line, error.column) == (1, 1)


def test_lax_models_are_validated_as_they_are() -> None:
    class Lax(BaseModel):
        count: int

    assert validate(Lax, load("count: '3'\n", "lax.yaml")).count == 3
    with pytest.raises(SpecError) as caught:
        validate(Lax, load("count: many\n", "lax.yaml"))
    assert caught.value.what.startswith("count: expected a whole number")
