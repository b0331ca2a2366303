"""The pure resolver and npm ranges: a table from the npm semver documentation, then graphs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from houston.core.errors import PackageError
from houston.pkg.resolve import Candidate, resolve
from houston.pkg.versions import Requirement, is_valid_range, parse_requirement, satisfies

# (range, version, satisfies?, include_prerelease) -- examples from the npm semver README
NPM_TABLE = [
    # caret: allow changes that do not modify the left-most non-zero digit
    ("^1.2.3", "1.2.3", True, False),
    ("^1.2.3", "1.9.9", True, False),
    ("^1.2.3", "2.0.0", False, False),
    ("^1.2.3", "1.2.2", False, False),
    ("^0.2.3", "0.2.9", True, False),
    ("^0.2.3", "0.3.0", False, False),
    ("^0.0.3", "0.0.3", True, False),
    ("^0.0.3", "0.0.4", False, False),
    ("^1.2.3-beta.2", "1.2.3-beta.4", True, False),
    ("^1.2.3-beta.2", "1.2.4-beta.2", False, False),  # prerelease of another tuple
    ("^1.2.x", "1.9.0", True, False),
    ("^0.0.x", "0.0.9", True, False),
    ("^0.0", "0.1.0", False, False),
    ("^1.x", "1.99.0", True, False),
    ("^0.x", "0.9.0", True, False),
    ("^0.x", "1.0.0", False, False),
    # tilde: patch-level changes if a minor is given
    ("~1.2.3", "1.2.9", True, False),
    ("~1.2.3", "1.3.0", False, False),
    ("~1.2", "1.2.0", True, False),
    ("~1.2", "1.3.0", False, False),
    ("~1", "1.9.9", True, False),
    ("~1", "2.0.0", False, False),
    ("~0.2.3", "0.2.5", True, False),
    ("~1.2.3-beta.2", "1.2.3-beta.4", True, False),
    ("~1.2.3-beta.2", "1.2.4-beta.2", False, False),
    # x-ranges
    ("*", "3.4.5", True, False),
    ("1.x", "1.4.0", True, False),
    ("1.x", "2.0.0", False, False),
    ("1.2.x", "1.2.7", True, False),
    ("1.2.x", "1.3.0", False, False),
    ("1", "1.5.0", True, False),
    ("1.2", "1.2.9", True, False),
    ("1.2", "1.3.0", False, False),
    # hyphen ranges
    ("1.2.3 - 2.3.4", "1.2.3", True, False),
    ("1.2.3 - 2.3.4", "2.3.4", True, False),
    ("1.2.3 - 2.3.4", "2.3.5", False, False),
    ("1.2 - 2.3.4", "1.2.0", True, False),
    ("1.2.3 - 2.3", "2.3.9", True, False),
    ("1.2.3 - 2.3", "2.4.0", False, False),
    ("1.2.3 - 2", "2.9.9", True, False),
    ("1.2.3 - 2", "3.0.0", False, False),
    # comparators and sets
    (">=1.2.7", "1.3.0", True, False),
    (">=1.2.7 <1.3.0", "1.2.8", True, False),
    (">=1.2.7 <1.3.0", "1.3.0", False, False),
    (">=1 <2", "1.99.99", True, False),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.7", True, False),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.8", False, False),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.4.6", True, False),
    ("1.2.7 || >=1.2.9 <2.0.0", "2.0.0", False, False),
    # prereleases: only within the same [major, minor, patch] tuple, unless asked
    (">1.2.3-alpha.3", "1.2.3-alpha.7", True, False),
    (">1.2.3-alpha.3", "3.4.5-alpha.9", False, False),
    (">1.2.3-alpha.3", "3.4.5", True, False),
    (">1.2.3-alpha.3", "3.4.5-alpha.9", True, True),
    ("^1.2.0", "1.3.0-rc.1", False, False),
    ("^1.2.0", "1.3.0-rc.1", True, True),
    # with prereleases allowed, prerelease tags still compare
    (">1.2.3-4", "1.2.3", True, True),
    (">1.2.3-4", "1.2.3-3", False, True),
    ("^1.0.0", "1.0.0-rc1", False, True),
    ("^1.0.0-rc1", "1.0.0-rc2", True, False),
]


@pytest.mark.parametrize(("range_", "version", "expected", "prerelease"), NPM_TABLE)
def test_npm_semver_ranges(range_: str, version: str, expected: bool, prerelease: bool) -> None:
    assert is_valid_range(range_)
    assert satisfies(version, range_, prerelease=prerelease) is expected


@pytest.mark.parametrize("bad", ["", "garbage", "^^1", ">=x.y.z <", "1.2.3 -", "1.x.5", "x.1"])
def test_garbage_ranges_are_refused_when_read(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_requirement(f"pkg@{bad}")


def test_requirement_parsing() -> None:
    assert parse_requirement("core-workflow@^2.0.0") == Requirement("core-workflow", "^2.0.0")
    assert parse_requirement("plain") == Requirement("plain", "*")
    with pytest.raises(ValueError, match="package name"):
        parse_requirement("Bad Name@1")


class DictIndex:
    """{name: {version: (deps, engines)}} as the resolver's Index."""

    def __init__(self, data: dict[str, dict[str, tuple[list[str], str | None]]]) -> None:
        self.data = data

    def versions(self, name: str) -> list[str]:
        return list(self.data.get(name, {}))

    def candidate(self, name: str, version: str) -> Candidate:
        deps, engines = self.data[name][version]
        return Candidate(name, version, tuple(parse_requirement(d) for d in deps), engines)


def reqs(*texts: str) -> list[Requirement]:
    return [parse_requirement(t) for t in texts]


FACTOR_XII = DictIndex(
    {
        "customer-service": {
            "1.2.0": (["core-workflow@^2.0.0", "communication-patterns@^1.5.0"], ">=0.1"),
            "1.1.0": (["core-workflow@^1.0.0"], None),
        },
        "core-workflow": {
            "1.9.0": ([], None),
            "2.0.0": ([], None),
            "2.3.1": ([], None),
            "3.0.0": ([], None),
            "2.4.0-beta.1": ([], None),
        },
        "communication-patterns": {"1.4.0": ([], None), "1.5.0": ([], None), "1.6.2": ([], None)},
    }
)


def test_highest_satisfying_versions_transitively() -> None:
    result = resolve(reqs("customer-service@^1.2"), FACTOR_XII, houston_version="0.1.0")
    assert result.versions == {
        "customer-service": "1.2.0",
        "core-workflow": "2.3.1",
        "communication-patterns": "1.6.2",
    }
    assert result.order(FACTOR_XII)[-1] == "customer-service"
    assert result.required_by["core-workflow"] == ["customer-service@1.2.0"]


def test_prereleases_only_when_asked() -> None:
    result = resolve(reqs("core-workflow@^2"), FACTOR_XII, houston_version="0.1.0", prerelease=True)
    assert result.versions["core-workflow"] == "2.4.0-beta.1"


def test_preferred_version_wins_when_it_satisfies() -> None:
    result = resolve(
        reqs("core-workflow@^2"),
        FACTOR_XII,
        houston_version="0.1.0",
        preferred={"core-workflow": "2.0.0"},
    )
    assert result.versions["core-workflow"] == "2.0.0"


def test_backtracks_to_a_lower_version_on_conflict() -> None:
    index = DictIndex(
        {
            "app": {"1.0.0": (["lib@*", "util@^1"], None)},
            "lib": {"2.0.0": (["util@^2"], None), "1.0.0": (["util@^1"], None)},
            "util": {"1.5.0": ([], None), "2.0.0": ([], None)},
        }
    )
    result = resolve(reqs("app"), index, houston_version="0.1.0")
    assert result.versions == {"app": "1.0.0", "lib": "1.0.0", "util": "1.5.0"}


def test_conflict_names_package_range_and_chain() -> None:
    index = DictIndex(
        {
            "a": {"1.0.0": (["c@^1"], None)},
            "b": {"1.0.0": (["c@^2"], None)},
            "c": {"1.0.0": ([], None), "2.0.0": ([], None)},
        }
    )
    with pytest.raises(PackageError) as caught:
        resolve(reqs("a@1", "b@1"), index, houston_version="0.1.0")
    message = str(caught.value)
    assert "version conflict on 'c'" in message
    assert "b@1.0.0 -> c@^2" in message and "a@1.0.0 -> c@^1" in message


def test_missing_version_names_range_and_chain() -> None:
    index = DictIndex(
        {"cs": {"1.2.0": (["core-workflow@^9.0.0"], None)}, "core-workflow": {"2.0.0": ([], None)}}
    )
    with pytest.raises(PackageError) as caught:
        resolve(reqs("cs@^1.2"), index, houston_version="0.1.0")
    message = str(caught.value)
    assert "'^9.0.0'" in message and "cs@1.2.0 -> core-workflow@^9.0.0" in message
    assert "available: 2.0.0" in message


def test_unknown_package_is_reported_with_its_chain() -> None:
    index = DictIndex({"cs": {"1.0.0": (["ghost@1"], None)}})
    with pytest.raises(PackageError) as caught:
        resolve(reqs("cs"), index, houston_version="0.1.0")
    assert "no package named 'ghost'" in str(caught.value)
    assert "cs@1.0.0 -> ghost@1" in str(caught.value)


def test_cycles_are_reported_with_the_chain() -> None:
    index = DictIndex({"a": {"1.0.0": (["b@1"], None)}, "b": {"1.0.0": (["a@1"], None)}})
    with pytest.raises(PackageError) as caught:
        resolve(reqs("a"), index, houston_version="0.1.0")
    assert "cycle through 'a'" in str(caught.value)
    assert "a@1.0.0 -> b@1.0.0 -> a@1" in str(caught.value)


def test_engines_houston_is_enforced() -> None:
    index = DictIndex({"new": {"2.0.0": ([], ">=0.5"), "1.0.0": ([], ">=0.1")}})
    result = resolve(reqs("new"), index, houston_version="0.1.0")
    assert result.versions["new"] == "1.0.0"
    with pytest.raises(PackageError, match=r"new@2.0.0 needs houston >=0.5, but this is houston"):
        resolve(reqs("new@2"), index, houston_version="0.1.0")


NAMES = ["a", "b", "c", "d"]
VERSIONS = ["1.0.0", "1.1.0", "2.0.0"]
RANGES = ["^1", "~1.1", ">=1.1", "2.x", "*", "1.0.0 - 1.1.0"]


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.sampled_from(NAMES), st.sampled_from(VERSIONS)),
        st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(RANGES)), max_size=2),
        min_size=1,
    ),
    st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(RANGES)), min_size=1, max_size=2),
)
def test_any_answer_satisfies_every_range_it_met(
    graph: dict[tuple[str, str], list[tuple[str, str]]], roots: list[tuple[str, str]]
) -> None:
    data: dict[str, dict[str, tuple[list[str], str | None]]] = {}
    for (name, version), deps in graph.items():
        wanted = [f"{d}@{r}" for d, r in dict(deps).items() if d != name]
        data.setdefault(name, {})[version] = (wanted, None)
    index = DictIndex(data)
    try:
        result = resolve(
            [Requirement(n, r) for n, r in dict(roots).items()], index, houston_version="0.1.0"
        )
    except PackageError:
        return  # conflicts, cycles and unknown names are legitimate answers here
    for name, range_ in dict(roots).items():
        assert satisfies(result.versions[name], range_)
    for name, version in result.versions.items():
        for dep in index.candidate(name, version).dependencies:
            assert satisfies(result.versions[dep.name], dep.range)
