"""The strict YAML loader, rule by rule (pure: no files)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from houston.core import yamlstrict
from houston.core.errors import SpecError
from houston.core.yamlstrict import MAX_DEPTH, dotted, load, resolve_plain, split_front_matter


def refused(text: str | bytes, **kwargs: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load(text, "f.yaml", **kwargs)
    return caught.value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("false", False),
        ("True", True),
        ("FALSE", False),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("null", None),
        ("~", None),
        ("", None),
        ("0", 0),
        ("-7", -7),
        ("+5", 5),
        ("012", "012"),
        ("0x1F", 31),
        ("0o17", 15),
        ("1_000", "1_000"),
        ("1:20", "1:20"),
        ("190:20:30", "190:20:30"),
        ("2024-01-01", "2024-01-01"),
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
        ("1.10", 1.1),
        ("1.", 1.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("-2.5E-1", -0.25),
        ("1.2.3", "1.2.3"),
        (".inf", ".inf"),
        ("-.inf", "-.inf"),
        (".nan", ".nan"),
        ("1e999", "1e999"),
        ("9" * 400, "9" * 400),
        ("hello", "hello"),
    ],
)
def test_plain_scalars_resolve_without_yaml_1_1_surprises(text: str, value: Any) -> None:
    assert resolve_plain(text) == value
    assert type(resolve_plain(text)) is type(value)


def test_quoted_and_block_scalars_are_always_text() -> None:
    doc = load("a: \"true\"\nb: '12'\nc: |\n  1.5\nd: >\n  null\n", "f.yaml")
    assert doc.data == {"a": "true", "b": "12", "c": "1.5\n", "d": "null\n"}


def test_keys_are_always_text() -> None:
    assert load("1: a\ntrue: b\nnull: c\n", "f.yaml").data == {"1": "a", "true": "b", "null": "c"}


def test_positions_are_one_based_and_follow_the_path() -> None:
    doc = load("name: x\ntasks:\n  - id: a\n    needs: [b, c]\n", "f.yaml")
    assert doc.position(()) == (1, 1)
    assert doc.position(("name",)) == (1, 7)
    assert doc.position(("tasks", 0)) == (3, 5)
    assert doc.position(("tasks", 0, "needs", 1)) == (4, 16)
    assert doc.key_position(("tasks", 0, "needs")) == (4, 5)


def test_position_of_a_missing_node_is_its_deepest_existing_parent() -> None:
    doc = load("name: x\ntasks:\n  - id: a\n", "f.yaml")
    assert doc.position(("tasks", 0, "agent")) == (3, 5)
    assert doc.position(("tasks", 7, "agent")) == (3, 3)
    assert doc.position(("nowhere", "deep")) == (1, 1)


def test_written_keeps_the_source_text_of_plain_scalars_only() -> None:
    doc = load('v: 1.10\nq: "1.10"\n', "f.yaml")
    assert doc.written(("v",)) == "1.10"
    assert doc.written(("q",)) is None


def test_error_helper_points_at_the_node_or_its_key() -> None:
    doc = load("a:\n  b: 1\n", "f.yaml")
    assert doc.error(("a", "b"), "bad", "fix").line == 2
    assert doc.error(("a", "b"), "bad", at_key=True).column == 3
    assert doc.error(("a", "b"), "bad").column == 6


def test_duplicate_key_is_refused_at_the_second_one() -> None:
    error = refused("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (error.line, error.column) == (4, 3)
    assert "duplicate key 'c' (first written on line 3)" in error.what


def test_quoted_and_plain_spellings_of_a_key_are_the_same_key() -> None:
    assert "duplicate key 'a'" in refused('a: 1\n"a": 2\n').what


def test_same_key_in_sibling_mappings_is_fine() -> None:
    assert load("x: {a: 1}\ny: {a: 2}\n", "f.yaml").data == {"x": {"a": 1}, "y": {"a": 2}}


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("a: &x 1\n", "anchor '&x'"),
        ("a: &x [1]\nb: *x\n", "anchor '&x'"),
        ("a: *x\n", "alias"),
        ("base: &b {k: 1}\nc:\n  <<: *b\n", "anchor '&b'"),
    ],
)
def test_anchors_and_aliases_are_refused(text: str, what: str) -> None:
    assert what in refused(text).what


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    text = 'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\n'
    assert refused(text).line == 1


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a: !!python/object/apply:os.system ['true']\n", "!!python/object/apply:os.system"),
        ("a: !!python/name:os.system\n", "!!python/name:os.system"),
        ("a: !!str 1\n", "!!str"),
        ("a: !!binary aGk=\n", "!!binary"),
        ("a: !custom x\n", "!custom"),
        ("a: !!map {b: 1}\n", "!!map"),
        ("a: ! x\n", "'!'"),
    ],
)
def test_every_tag_is_refused(text: str, shown: str) -> None:
    error = refused(text)
    assert shown in error.what
    assert (error.line, error.column) == (1, 4)


def test_oversize_document_is_refused_before_parsing() -> None:
    error = refused("a: " + "x" * 100 + "\n", max_bytes=64)
    assert "over the limit of 64 bytes" in error.what
    assert error.line == 0


def test_default_size_cap_is_one_mebibyte() -> None:
    body = "# " + "x" * 1000 + "\n"
    fits = body * (1024 * 1024 // len(body))
    assert load(fits, "f.yaml").data is None
    assert "over the limit of 1048576" in refused(fits + body).what


def test_size_cap_counts_utf8_bytes_of_text() -> None:
    assert "over the limit" in refused("a: " + "é" * 40, max_bytes=64).what


def test_invalid_utf8_names_its_line_and_column() -> None:
    error = refused(b"a: 1\nb: ok\xffno\n")
    assert (error.line, error.column) == (2, 6)
    assert "not valid UTF-8 (byte 0xff)" in error.what


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert load(b"\xef\xbb\xbfa: 1\n", "f.yaml").data == {"a": 1}


def test_control_characters_are_refused_with_their_position() -> None:
    error = refused("a: 1\nb: x\x1by\n")
    assert (error.line, error.column) == (2, 5)
    assert "U+001B" in error.what


def test_tab_indentation_is_named_as_such() -> None:
    error = refused("a:\n  b: 1\n\tc: 2\n")
    assert "tab" in error.what
    assert (error.line, error.column) == (3, 1)
    assert "spaces" in error.fix


def test_tabs_inside_values_are_fine() -> None:
    assert load('a: "x\\ty"\nb: [1,\t2]\n', "f.yaml").data == {"a": "x\ty", "b": [1, 2]}


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: [1, 2\n", 2, 1),
        ("a: b: c\n", 1, 5),
        ("a: 'open\n", 2, 1),
        ("a:\n  - 1\n  b: 2\n", 3, 3),
    ],
)
def test_syntax_errors_carry_the_line_and_column_yaml_reports(
    text: str, line: int, column: int
) -> None:
    error = refused(text)
    assert "YAML syntax error" in error.what
    assert (error.line, error.column) == (line, column)
    assert error.fix


def test_a_second_document_is_refused() -> None:
    error = refused("a: 1\n---\nb: 2\n")
    assert "more than one YAML document" in error.what
    assert error.line == 2


def test_an_explicit_start_marker_and_end_marker_are_fine() -> None:
    assert load("---\na: 1\n...\n", "f.yaml").data == {"a": 1}


def test_complex_keys_are_refused() -> None:
    assert "key must be plain text" in refused("[a, b]: 1\n").what
    assert "key must be plain text" in refused("? {a: 1}\n: 2\n").what


def test_nesting_is_capped() -> None:
    fine = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert load(fine, "f.yaml").data is not None
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert f"nested more than {MAX_DEPTH} levels" in refused(deep).what


def test_empty_and_comment_only_documents_are_none() -> None:
    assert load("", "f.yaml").data is None
    assert load(b"# nothing\n", "f.yaml").data is None


def test_source_name_is_kept_in_errors() -> None:
    with pytest.raises(SpecError) as caught:
        load("a: 1\na: 2\n", "pkg/package.yaml")
    assert str(caught.value).startswith("pkg/package.yaml:2:1: duplicate key")


def test_dotted_paths_read_like_yaml() -> None:
    assert dotted(("tasks", 1, "needs", 0)) == "tasks[1].needs[0]"
    assert dotted(()) == "the top level"


def test_front_matter_keeps_the_files_line_numbers() -> None:
    text = "---\nname: a\ndescription: b\n---\n# Title\nbody\n"
    front, body, body_line = split_front_matter(text, "agent.md")
    assert front is not None
    assert front.data == {"name": "a", "description": "b"}
    assert front.position(("description",)) == (3, 14)
    assert body == "# Title\nbody\n"
    assert body_line == 5
    assert text.split("\n")[body_line - 1] == "# Title"


def test_front_matter_errors_point_at_the_files_line() -> None:
    with pytest.raises(SpecError) as caught:
        split_front_matter(b"---\nname: a\nname: b\n---\nbody\n", "agent.md")
    assert (caught.value.line, caught.value.column) == (3, 1)


def test_no_front_matter_returns_the_whole_text() -> None:
    assert split_front_matter("# Title\n---\n", "doc.md") == (None, "# Title\n---\n", 1)


def test_empty_front_matter_is_a_document_without_data() -> None:
    front, body, line = split_front_matter("---\n---\nbody", "a.md")
    assert front is not None and front.data is None
    assert (body, line) == ("body", 3)


def test_unclosed_front_matter_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        split_front_matter("---\nname: a\nbody\n", "a.md")
    assert "never closed" in caught.value.what
    assert caught.value.line == 1


def test_front_matter_is_size_capped_and_decoded() -> None:
    with pytest.raises(SpecError, match="not valid UTF-8"):
        split_front_matter(b"---\nname: \xff\n---\n", "a.md")
    with pytest.raises(SpecError, match="over the limit"):
        split_front_matter("---\na: 1\n---\n" + "x" * 100, "a.md", max_bytes=50)


# YAML 1.2 is a superset of JSON: any JSON document must load to the same data. Raw C1
# controls and U+2028/9 are left out: YAML forbids or folds them, JSON writes them raw.
_YAML_TEXT = st.text(
    st.characters(
        exclude_categories=["Cs"],
        exclude_characters=[chr(c) for c in range(0x7F, 0xA0)]
        + ["\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff"],
    )
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _YAML_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_YAML_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_json_documents_load_unchanged(data: Any) -> None:
    assert load(json.dumps(data, ensure_ascii=False), "f.json").data == data


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [yes, 1.10, '2', ~]\nc:\n  d: |\n    x\n",
        "- {id: a}\n- id: b\n  needs: [a]\n",
        "",
    ],
)
def test_the_pure_python_parser_gives_the_same_document(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = load(text, "f.yaml")
    monkeypatch.setattr(yamlstrict, "_LOADER", yaml.SafeLoader)
    slow = load(text, "f.yaml")
    assert (slow.data, slow.values, slow.keys, slow.plain) == (
        fast.data,
        fast.values,
        fast.keys,
        fast.plain,
    )


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a: &x 1\n", "anchor"),
        ("a: !!python/name:os.system x\n", "tag"),
        ("a:\n\tb: 1\n", "tab"),
        ("a: [1\n", "YAML syntax error"),
    ],
)
def test_the_pure_python_parser_refuses_the_same_things(
    text: str, what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yamlstrict, "_LOADER", yaml.SafeLoader)
    assert what in refused(text).what
