"""Every file under tests/data/missions/: the valid ones load, each invalid one fails where
and how its row in the table says, and the JSON Schema agrees on the valid ones."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from houston.core.errors import EXIT_BAD_INPUT, SpecError
from houston.core.yamlstrict import load
from houston.mission import MissionSpec, load_mission

DATA = Path(__file__).parent / "data" / "missions"
VALID = sorted((DATA / "valid").glob("*.yaml"))

# file name -> (line, column or 0 for "any", fragment of the message, fragment of the fix)
INVALID: dict[str, tuple[int, int, str, str]] = {
    "alias.yaml": (5, 13, "anchor '&shared' is not allowed", "write the value out"),
    "bad_agent_ref.yaml": (4, 12, "agent 'shell' must be written package/agent", "core/shell"),
    "bad_duration.yaml": (5, 14, "'5 minutes' is not a duration", "5m"),
    "bad_id.yaml": (3, 9, "'fetch data' is not safe as a folder name", "lowercase letters"),
    "bad_indent.yaml": (4, 11, "YAML syntax error", "indentation"),
    "bad_requires_range.yaml": (3, 5, "'^^1' is not a valid npm semver range", "^1.2.0"),
    "budget_key_typo.yaml": (3, 3, "unknown key 'max_token' in budget", "'max_tokens'"),
    "comments_only.yaml": (1, 1, "the document is empty", "Houston mission"),
    "control_char.yaml": (1, 11, "control character U+0007", "remove it"),
    "custom_tag.yaml": (2, 10, "tag '!include' is not allowed", "remove the tag"),
    "cycle.yaml": (5, 13, "cycle: a -> b -> a", "remove one of these needs"),
    "cycle_long.yaml": (4, 47, "cycle: x -> z -> y -> x", "remove one"),
    "dotdot_id.yaml": (3, 9, "'../../etc' is not safe as a folder name", "lowercase"),
    "duplicate_id.yaml": (5, 9, "task id 'fetch' is used twice (first on line 3)", "own id"),
    "duplicate_key.yaml": (5, 5, "duplicate key 'agent' (first written on line 4)", "last"),
    "duplicate_need.yaml": (4, 43, "lists 'a' twice in needs", "once"),
    "duplicate_top_key.yaml": (3, 1, "duplicate key 'name' (first written on line 1)", "remove"),
    "empty.yaml": (1, 1, "the document is empty", "Houston mission"),
    "gate_true.yaml": (2, 7, "the boolean true is not one of 'none' or 'approve'", "'none'"),
    "gate_yes.yaml": (2, 7, "'yes' is not one of 'none' or 'approve'", "'approve'"),
    "huge_wall_time.yaml": (3, 18, "'9999h' is longer than 31 days", "unit"),
    "initializer_id_clash.yaml": (5, 9, "'init' is the initializer's default id", "rename"),
    "initializer_needs.yaml": (4, 3, "the initializer cannot have needs", "runs first"),
    "inputs_list.yaml": (5, 13, "tasks[0].inputs: expected a mapping", "key: value"),
    "invalid_utf8.yaml": (2, 17, "not valid UTF-8 (byte 0xe9)", "UTF-8"),
    "list_top.yaml": (1, 1, "expected a mapping (key: value lines) at the top", "not a list"),
    "merge_key.yaml": (2, 11, "anchor '&defaults' is not allowed", "in full"),
    "missing_agent.yaml": (3, 5, "missing required key 'agent' in tasks[0]", "agent:"),
    "missing_name.yaml": (1, 1, "missing required key 'name'", "name:"),
    "missing_need.yaml": (7, 13, "needs 'fecth', which is not a task", "did you mean 'fetch'?"),
    "multiline_name.yaml": (1, 7, "the name must be one line", "description"),
    "needs_string.yaml": (6, 12, "tasks[1].needs: expected a list, got the text 'a'", "[a, b]"),
    "negative_budget.yaml": (3, 15, "budget.max_tokens: must be at least 0, got -100", "at least"),
    "negative_cost.yaml": (5, 24, "max_cost: must be at least 0", "at least"),
    "no_tasks.yaml": (2, 8, "no tasks and no initializer", "tasks:"),
    "nul_byte.yaml": (6, 1, "control character U+0000", "remove it"),
    "null_name.yaml": (1, 6, "name: expected text, got nothing (null)", "write a value"),
    "numeric_id.yaml": (3, 9, "tasks[0].id: expected text, got the number 1", 'quote it: "1"'),
    "on_failure_bad.yaml": (2, 13, "'ignore' is not one of 'fail_fast' or 'continue'", "use one"),
    "only_name.yaml": (1, 1, "no tasks and no initializer", "tasks:"),
    "oversize.yaml": (0, 0, "over the limit of 1048576 bytes", "small"),
    "python_tag.yaml": (5, 13, "tag '!!python/object/apply:os.system' is not allowed", "tag"),
    "requires_no_range.yaml": (2, 12, "'core' has no version range", "core@*"),
    "requires_twice.yaml": (4, 5, "package 'core' is required twice", "keep one range"),
    "retries_float.yaml": (5, 14, "expected a whole number, got the number 2.5", "e.g. 2"),
    "retries_quoted.yaml": (5, 14, "expected a whole number, got the text '3'", "without quotes"),
    "retries_text.yaml": (5, 14, "expected a whole number, got the text 'three'", "number"),
    "retries_yes.yaml": (5, 14, "expected a whole number, got the text 'yes'", "number"),
    "scalar_top.yaml": (1, 1, "at the top, got the text 'just some text'", "key: value"),
    "self_need.yaml": (5, 13, "task 'a' needs itself", "remove it"),
    "sexagesimal_timeout.yaml": (5, 14, "'1:30' is not a duration (YAML 1.1", "1m30s, or 90"),
    "str_tag.yaml": (1, 7, "tag '!!str' is not allowed", "quote"),
    "syntax_colon.yaml": (5, 29, "YAML syntax error: did not find expected ',' or '}'", "quot"),
    "syntax_unclosed.yaml": (6, 7, "did not find expected ',' or ']'", "indentation"),
    "tab_indent.yaml": (4, 1, "a tab is used for indentation", "spaces"),
    "task_null.yaml": (3, 4, "tasks[0]: expected a mapping (key: value), got nothing", "value"),
    "tasks_mapping.yaml": (3, 3, "tasks: expected a list, got a mapping", "- item"),
    "two_documents.yaml": (6, 1, "more than one YAML document", "remove the second '---'"),
    "unknown_key_typo.yaml": (2, 1, "unknown key 'descripton'", "did you mean 'description'?"),
    "unknown_task_key.yaml": (7, 5, "unknown key 'depends_on' in tasks[1]", "'needs'"),
    "uppercase_id.yaml": (3, 9, "id 'Fetch' must be lowercase", "write 'fetch'"),
    "version_key.yaml": (1, 1, "unknown key 'version'", "allowed keys here: name,"),
    "version_like_float.yaml": (1, 7, "got the number 1.1 (written 1.10)", 'quote it: "1.10"'),
    "zero_concurrency.yaml": (3, 20, "max_concurrency: must be at least 1, got 0", "at least 1"),
    "zero_timeout.yaml": (5, 14, "a duration must be greater than zero", "30s"),
}


def test_every_invalid_file_has_a_row_and_every_row_a_file() -> None:
    on_disk = {path.name for path in (DATA / "invalid").iterdir()}
    assert on_disk == set(INVALID)
    assert len(on_disk) >= 30


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_mission_is_refused_where_and_how_the_table_says(name: str) -> None:
    line, column, what, fix = INVALID[name]
    with pytest.raises(SpecError) as caught:
        load_mission((DATA / "invalid" / name).read_bytes(), f"missions/{name}")
    error = caught.value
    assert what in error.what
    assert fix in error.fix
    assert (error.line, error.column if column else 0) == (line, column)
    assert error.source == f"missions/{name}"
    assert error.exit_code == EXIT_BAD_INPUT
    where = f"missions/{name}:{line}:{column}" if line else f"missions/{name}"
    assert str(error).startswith(f"{where}: ")


@pytest.mark.parametrize("path", VALID, ids=[path.name for path in VALID])
def test_valid_mission_loads(path: Path) -> None:
    spec = load_mission(path.read_bytes(), path.name)
    assert isinstance(spec, MissionSpec)
    assert spec.tasks or spec.initializer is not None


def test_valid_examples_cover_enough() -> None:
    assert len(VALID) >= 5


@pytest.mark.parametrize("path", VALID, ids=[path.name for path in VALID])
def test_json_schema_accepts_every_valid_example(path: Path) -> None:
    schema = MissionSpec.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(load(path.read_bytes(), path.name).data, schema)


@pytest.mark.parametrize(
    "name", ["unknown_key_typo.yaml", "version_key.yaml", "gate_yes.yaml", "tasks_mapping.yaml"]
)
def test_json_schema_refuses_what_the_loader_refuses(name: str) -> None:
    data = load((DATA / "invalid" / name).read_bytes(), name).data
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json.loads(json.dumps(MissionSpec.model_json_schema())))
