"""npm's semver ranges in Python: a faithful port of node-semver 7 (strict mode).

Pure. The PyPI port `node-semver` stops comparing prerelease tags when prereleases are
allowed (`>1.2.3-4` refused `1.2.3`) and accepts ranges npm refuses (`1.x.5`, `x.1`), so
Houston carries its own port of `classes/range.js`, `comparator.js` and `semver.js`,
regular expressions included (with node-semver's "safe" length caps). The tests check it
against the `semver` package that npm itself ships, run with node.

`Range(text, include_prerelease)` raises `ValueError` for a range npm refuses;
`Range.test(version)` is `semver.satisfies`. Digits and spaces are ASCII only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1
_LDN = "[a-zA-Z0-9-]"


def _safe(source: str) -> str:
    """node-semver's makeSafeRegex: cap `\\s`, `\\d` and build-character repeats."""
    for token, cap in (("\\s", 1), ("\\d", MAX_LENGTH), (_LDN, MAX_LENGTH - 6)):
        source = source.replace(f"{token}*", f"{token}{{0,{cap}}}")
        source = source.replace(f"{token}+", f"{token}{{1,{cap}}}")
    return source


_NUM = "0|[1-9]\\d*"
_NONNUM = f"\\d*[a-zA-Z-]{_LDN}*"
_MAIN = f"({_NUM})\\.({_NUM})\\.({_NUM})"
_MAIN_LOOSE = "(\\d+)\\.(\\d+)\\.(\\d+)"
_PRE_ID = f"(?:{_NONNUM}|{_NUM})"
_PRE_ID_LOOSE = f"(?:{_NONNUM}|\\d+)"
_PRE = f"(?:-({_PRE_ID}(?:\\.{_PRE_ID})*))"
_PRE_LOOSE = f"(?:-?({_PRE_ID_LOOSE}(?:\\.{_PRE_ID_LOOSE})*))"
_BUILD = f"(?:\\+({_LDN}+(?:\\.{_LDN}+)*))"
_FULLPLAIN = f"v?{_MAIN}{_PRE}?{_BUILD}?"
_LOOSEPLAIN = f"[v=\\s]*{_MAIN_LOOSE}{_PRE_LOOSE}?{_BUILD}?"
_GTLT = "((?:<|>)?=?)"
_XID = f"{_NUM}|x|X|\\*"
_XPLAIN = f"[v=\\s]*({_XID})(?:\\.({_XID})(?:\\.({_XID})(?:{_PRE})?{_BUILD}?)?)?"


def _compile(source: str) -> re.Pattern[str]:
    return re.compile(_safe(source), re.ASCII)


FULL = _compile(f"^{_FULLPLAIN}\\Z")
_XRANGE = _compile(f"^{_GTLT}\\s*{_XPLAIN}\\Z")
_TILDE = _compile(f"^(?:~>?){_XPLAIN}\\Z")
_TILDETRIM = _compile("(\\s*)(?:~>?)\\s+")
_CARET = _compile(f"^(?:\\^){_XPLAIN}\\Z")
_CARETTRIM = _compile("(\\s*)(?:\\^)\\s+")
_COMPARATOR = _compile(f"^{_GTLT}\\s*({_FULLPLAIN})\\Z|^\\Z")
_COMPARATORTRIM = _compile(f"(\\s*){_GTLT}\\s*({_LOOSEPLAIN}|{_XPLAIN})")
_HYPHEN = _compile(f"^\\s*({_XPLAIN})\\s+-\\s+({_XPLAIN})\\s*\\Z")
_STAR = _compile("(<|>)?=?\\s*\\*")
_GTE0 = _compile("^\\s*>=\\s*0\\.0\\.0\\s*\\Z")
_GTE0PRE = _compile("^\\s*>=\\s*0\\.0\\.0-0\\s*\\Z")
_BUILD_RE = _compile(_BUILD)
_SPACES = re.compile(r"\s+", re.ASCII)

Ident = int | str


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[Ident, ...] = ()
    build: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        main = f"{self.major}.{self.minor}.{self.patch}"
        return main + ("-" + ".".join(map(str, self.prerelease)) if self.prerelease else "")


def parse_version(text: str) -> Version:
    """`new SemVer(text)`: ValueError when npm would refuse it."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"version is longer than {MAX_LENGTH} characters")
    m = FULL.match(text.strip(" \t\n\r\f\v"))
    if not m:
        raise ValueError(f"invalid version: {text!r}")
    numbers = [int(m.group(i)) for i in (1, 2, 3)]
    if any(n > MAX_SAFE_INTEGER for n in numbers):
        raise ValueError(f"invalid version: {text!r} (a number is too large)")
    pre = tuple(_ident(part) for part in m.group(4).split(".")) if m.group(4) else ()
    build = tuple(m.group(5).split(".")) if m.group(5) else ()
    return Version(numbers[0], numbers[1], numbers[2], pre, build)


def _ident(part: str) -> Ident:
    if part.isascii() and part.isdigit() and int(part) < MAX_SAFE_INTEGER:
        return int(part)
    return part


def _compare_idents(a: Ident, b: Ident) -> int:
    """npm's compareIdentifiers: numbers by value and before words, words by code point."""
    a_num, b_num = _numeric(a), _numeric(b)
    if a_num and b_num:
        x, y = int(a), int(b)
        return (x > y) - (x < y)
    if a_num != b_num:
        return -1 if a_num else 1
    return (str(a) > str(b)) - (str(a) < str(b))


def _numeric(ident: Ident) -> bool:
    return isinstance(ident, int) or (ident.isascii() and ident.isdigit())


def compare(a: Version, b: Version) -> int:
    """-1, 0 or 1 as npm orders versions (build metadata ignored)."""
    main = (a.major, a.minor, a.patch)
    other = (b.major, b.minor, b.patch)
    if main != other:
        return -1 if main < other else 1
    if not a.prerelease or not b.prerelease:
        return (not a.prerelease) - (not b.prerelease)  # a release follows its prereleases
    for x, y in zip(a.prerelease, b.prerelease, strict=False):
        if x != y:
            return _compare_idents(x, y)
    return (len(a.prerelease) > len(b.prerelease)) - (len(a.prerelease) < len(b.prerelease))


def compare_build(a: Version, b: Version) -> int:
    """`compare`, then build metadata as a tie-break (npm's `compareBuild`)."""
    first = compare(a, b)
    if first or a.build == b.build:
        return first
    for x, y in zip(a.build, b.build, strict=False):
        if x != y:
            return _compare_idents(_ident(x), _ident(y))
    return (len(a.build) > len(b.build)) - (len(a.build) < len(b.build))


sort_key = functools.cmp_to_key(compare_build)

_TESTS: dict[str, Callable[[int], bool]] = {
    "": lambda c: c == 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
}


@dataclass(frozen=True)
class Comparator:
    operator: str
    version: Version | None  # None: any version

    @classmethod
    def parse(cls, text: str) -> Comparator:
        m = _COMPARATOR.match(_SPACES.sub(" ", text.strip()))
        if not m:
            raise ValueError(f"invalid comparator: {text!r}")
        operator = "" if m.group(1) in (None, "=") else m.group(1)
        return cls(operator, parse_version(m.group(2)) if m.group(2) else None)

    @property
    def value(self) -> str:
        return "" if self.version is None else self.operator + self.version.text

    def test(self, version: Version) -> bool:
        return self.version is None or _TESTS[self.operator](compare(version, self.version))


Comparators = tuple[Comparator, ...]
_NULL_SET = "<0.0.0-0"


@dataclass(frozen=True)
class Range:
    """`new Range(text, {includePrerelease})`; ValueError when npm refuses the range."""

    sets: tuple[Comparators, ...]
    include_prerelease: bool = False

    @classmethod
    def parse(cls, text: str, include_prerelease: bool = False) -> Range:
        if not text.isascii():
            raise ValueError(f"invalid range {text!r}: only ASCII characters are allowed")
        raw = _SPACES.sub(" ", text.strip())
        parsed = [_parse_set(part.strip(), include_prerelease) for part in raw.split("||")]
        sets = [s for s in parsed if s]
        if not sets:
            raise ValueError(f"invalid range {text!r}")
        if len(sets) > 1:
            first = sets[0]
            sets = [s for s in sets if s[0].value != _NULL_SET] or [first]
            sets = next(([s] for s in sets if len(s) == 1 and s[0].version is None), sets)
        return cls(tuple(sets), include_prerelease)

    def test(self, version: Version) -> bool:
        return any(_test_set(s, version, self.include_prerelease) for s in self.sets)


def _test_set(comparators: Comparators, version: Version, include_prerelease: bool) -> bool:
    if not all(c.test(version) for c in comparators):
        return False
    if not version.prerelease or include_prerelease:
        return True
    # A prerelease is only admitted by a comparator naming a prerelease of the same
    # MAJOR.MINOR.PATCH: ^1.2.3-rc.1 admits 1.2.3-rc.2, never 1.2.4-alpha.
    main = (version.major, version.minor, version.patch)
    return any(
        c.version is not None
        and c.version.prerelease
        and (c.version.major, c.version.minor, c.version.patch) == main
        for c in comparators
    )


def _parse_set(text: str, include_prerelease: bool) -> Comparators:
    text = _BUILD_RE.sub("", text)
    text = _HYPHEN.sub(lambda m: _hyphen(m, include_prerelease), text, count=1)
    text = _COMPARATORTRIM.sub(lambda m: "".join(g or "" for g in m.group(1, 2, 3)), text)
    text = _TILDETRIM.sub(lambda m: m.group(1) + "~", text)
    text = _CARETTRIM.sub(lambda m: m.group(1) + "^", text)
    expanded = " ".join(_desugar(part, include_prerelease) for part in text.split(" "))
    gte0 = _GTE0PRE if include_prerelease else _GTE0
    parts = [gte0.sub("", part.strip(), count=1) for part in _SPACES.split(expanded)]
    found: dict[str, Comparator] = {}
    for part in parts:
        comparator = Comparator.parse(part)
        if comparator.value == _NULL_SET:
            return (comparator,)
        found[comparator.value] = comparator
    if len(found) > 1:
        found.pop("", None)
    return tuple(found.values())


def _desugar(comp: str, include_prerelease: bool) -> str:
    """parseComparator: build stripped, then carets, tildes, x-ranges and stars replaced."""
    comp = _BUILD_RE.sub("", comp, count=1)
    words = _SPACES.split(comp.strip())
    comp = " ".join(_CARET.sub(lambda m: _caret(m, include_prerelease), w, count=1) for w in words)
    words = _SPACES.split(comp.strip())
    comp = " ".join(_TILDE.sub(lambda m: _tilde(m, include_prerelease), w, count=1) for w in words)
    comp = " ".join(_xrange(w.strip(), include_prerelease) for w in _SPACES.split(comp))
    return _STAR.sub("", comp.strip(), count=1)


def _is_x(part: str | None) -> bool:
    return not part or part.lower() == "x" or part == "*"


def _tilde(m: re.Match[str], include_prerelease: bool) -> str:
    major, minor, patch, pre = m.group(1, 2, 3, 4)
    z = "-0" if include_prerelease else ""
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0{z} <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        return f">={major}.{minor}.0{z} <{major}.{int(minor) + 1}.0-0"
    low = f">={major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    return f"{low} <{major}.{int(minor) + 1}.0-0"


def _caret(m: re.Match[str], include_prerelease: bool) -> str:
    major, minor, patch, pre = m.group(1, 2, 3, 4)
    z = "-0" if include_prerelease else ""
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0{z} <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        top = f"{major}.{int(minor) + 1}.0-0" if major == "0" else f"{int(major) + 1}.0.0-0"
        return f">={major}.{minor}.0{z} <{top}"
    low = f">={major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    if major != "0":
        return f"{low} <{int(major) + 1}.0.0-0"
    if minor != "0":
        return f"{low} <0.{int(minor) + 1}.0-0"
    return f"{low} <0.0.{int(patch) + 1}-0"


def _xrange(comp: str, include_prerelease: bool) -> str:
    m = _XRANGE.match(comp)
    if not m:
        return comp
    gtlt, major, minor, patch = m.group(1, 2, 3, 4)
    if (_is_x(major) and not _is_x(minor)) or (_is_x(minor) and patch and not _is_x(patch)):
        return comp  # 1.x.5 or x.1: left as written, so the comparator parse refuses it
    x_major = _is_x(major)
    x_minor = x_major or _is_x(minor)
    any_x = x_minor or _is_x(patch)
    gtlt = "" if gtlt == "=" and any_x else gtlt
    pr = "-0" if include_prerelease else ""
    if x_major:
        return _NULL_SET if gtlt in (">", "<") else "*"
    if gtlt and any_x:
        return _bounded_xrange(gtlt, int(major), 0 if x_minor else int(minor), x_minor, pr)
    if x_minor:
        return f">={major}.0.0{pr} <{int(major) + 1}.0.0-0"
    if any_x:
        return f">={major}.{minor}.0{pr} <{major}.{int(minor) + 1}.0-0"
    return m.group(0)


def _bounded_xrange(gtlt: str, major: int, minor: int, x_minor: bool, pr: str) -> str:
    """`>1.2`, `<=1.x` and friends: the bound moved to a full version."""
    if gtlt == ">":
        gtlt = ">="
        major, minor = (major + 1, 0) if x_minor else (major, minor + 1)
    elif gtlt == "<=":
        gtlt = "<"
        major, minor = (major + 1, minor) if x_minor else (major, minor + 1)
    if gtlt == "<":
        pr = "-0"
    return f"{gtlt}{major}.{minor}.0{pr}"


def _hyphen(m: re.Match[str], include_prerelease: bool) -> str:
    start, f_major, f_minor, f_patch, f_pre = m.group(1, 2, 3, 4, 5)
    end, t_major, t_minor, t_patch, t_pre = m.group(7, 8, 9, 10, 11)
    z = "-0" if include_prerelease else ""
    if _is_x(f_major):
        low = ""
    elif _is_x(f_minor):
        low = f">={f_major}.0.0{z}"
    elif _is_x(f_patch):
        low = f">={f_major}.{f_minor}.0{z}"
    else:
        low = f">={start}" + ("" if f_pre else z)
    if _is_x(t_major):
        high = ""
    elif _is_x(t_minor):
        high = f"<{int(t_major) + 1}.0.0-0"
    elif _is_x(t_patch):
        high = f"<{t_major}.{int(t_minor) + 1}.0-0"
    elif t_pre:
        high = f"<={t_major}.{t_minor}.{t_patch}-{t_pre}"
    elif include_prerelease:
        high = f"<{t_major}.{t_minor}.{int(t_patch) + 1}-0"
    else:
        high = f"<={end}"
    return f"{low} {high}".strip()


def canonical(range_: Range) -> str:
    """npm's `validRange`: the desugared range, `*` for any version."""
    text = "||".join(" ".join(c.value for c in s).strip() for s in range_.sets)
    return text or "*"
