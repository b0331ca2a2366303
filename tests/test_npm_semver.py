"""Houston's npm range port against npm's own `semver` package, run with node as the oracle.

npm ships node-semver inside itself (`$(npm root -g)/npm/node_modules/semver`): every range
below is parsed by both, with and without `includePrerelease`, and every version is tested
against every range. node and npm are test dependencies: without them this test fails.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from houston.pkg.npmsemver import Range, canonical, parse_version

ORACLE = """
const semver = require(process.argv[1]);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.ranges.map(([range, includePrerelease]) => {
  const options = {includePrerelease};
  const valid = semver.validRange(range, options);
  const hits = valid === null ? [] :
    cases.versions.map(v => semver.satisfies(v, range, options));
  return [valid, hits];
});
process.stdout.write(JSON.stringify(out));
"""

HEADS = ["", "=", ">", ">=", "<", "<=", "~", "~>", "^", "v", "> ", "^ ", "~ ", ">= v"]
TAILS = [
    "1",
    "1.2",
    "1.2.3",
    "0",
    "0.0",
    "0.0.3",
    "0.2.3",
    "0.2",
    "x",
    "X",
    "*",
    "1.x",
    "1.2.x",
    "1.*.*",
    "x.1",
    "1.x.5",
    "*.*.1",
    "x.x.1",
    "1.2.3-beta.2",
    "0.0.0-0",
    "1.2.3-4",
    "0.0.3-rc.1",
    "01.2.3",
    "1.02",
    "1.2.3+build.7",
    "1.2.3-rc.1+b",
    "1.2.3.4",
    "1.2.3-",
    "1.2.3-01",
    "1.2.3-a..b",
    "9007199254740992.0.0",
    "1.2.3beta",
]
HAND = [
    "",
    " ",
    "||",
    "1.2.3 || ",
    "* || 1.2.3",
    "<x <* || >* 2.x",
    ">x 2.x || * || <x",
    "1.0.0 - 2.0.0",
    "1 - 2",
    "1.0 - 2.0",
    "1.2.3-rc.1 - 2.0.0-beta",
    "x - 2",
    "1.2 - x",
    "1.2.3 - 1.2.3",
    "v1.2.3 - =2.0.0",
    "1.2.3 -2.0.0",
    "1.2.3 - 2.0.0 - 3.0.0",
    ">=1.2.3 <2.0.0",
    ">= 1.2.3 < 2.0.0",
    ">1.2.3-4",
    "<1.2.3-4",
    "^1.2.3-4 || ~2.0.0",
    "^0.0.1-beta",
    "~1.2.3-beta.2",
    ">=0.0.0",
    ">=0.0.0-0",
    ">=0.0.0 <1",
    "^ 1.2 ^ 1",
    "1 2",
    "~> 1",
    "<\t2.0.0",
    ">=1.x.5",
    "~1.x.3",
    "^1.x",
    "1.2.3 - x",
    "> =1.2",
    "<=>1",
    "=>1",
    "!1.2.3",
    "1.2.3 | 2",
    "1.2.3 &&",
    "latest",
    "٣.1",
    "1.2.3\u00a0",
    ">1.2 <1.2.5 || >=2.0.0-rc.1 <2.0.0",
    "^0",
    "^0.0",
    "~0",
    "<=1.2",
    ">1",
    ">1.2",
    "<1",
    "<1.2",
    "<=1",
    ">X",
    "<X",
    "=x",
    "1.2.3 x",
    "x.x.x",
    "1.2.3-alpha.10 - 1.2.3-alpha.2",
]
VERSIONS = [
    "0.0.0",
    "0.0.0-0",
    "0.0.1",
    "0.0.1-beta",
    "0.0.3",
    "0.0.3-rc.1",
    "0.0.3-rc.2",
    "0.0.4",
    "0.1.0",
    "0.2.3",
    "0.2.4-0",
    "0.3.0",
    "1.0.0",
    "1.0.0-rc1",
    "1.0.1-rc1",
    "1.1.9",
    "1.2.0",
    "1.2.0-0",
    "1.2.2",
    "1.2.3",
    "1.2.3-0",
    "1.2.3-4",
    "1.2.3-5",
    "1.2.3-beta",
    "1.2.3-beta.2",
    "1.2.3-beta.10",
    "1.2.3-alpha.2",
    "1.2.3-alpha.10",
    "1.2.3-rc.1",
    "1.2.3+build.7",
    "1.2.4",
    "1.2.4-alpha",
    "1.2.5",
    "1.3.0",
    "1.3.0-0",
    "1.9.9",
    "2.0.0",
    "2.0.0-0",
    "2.0.0-beta",
    "2.0.0-rc.1",
    "2.0.1",
    "2.9.9",
    "3.0.0",
    "3.0.0-0",
    "10.0.0",
]


def ranges() -> list[str]:
    simple = [head + tail for head, tail in itertools.product(HEADS, TAILS)]
    unions = [f"{a} || {b}" for a, b in zip(TAILS, reversed(TAILS), strict=True)]
    spans = [f"{a} - {b}" for a, b in itertools.product(TAILS[:14], TAILS[2:10])]
    return [*HAND, *simple, *unions, *spans]


def semver_package() -> Path:
    """The `semver` that npm itself loads (npm/node_modules/semver from nodejs.org builds,
    /usr/share/nodejs/semver with Debian's npm package), found as node's require finds it."""
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "node and npm are test dependencies: install nodejs and npm"
    npm_dir = Path(os.path.realpath(npm)).parent.parent  # .../npm/bin/npm-cli.js -> .../npm
    found = subprocess.run(
        [
            node,
            "-e",
            "console.log(require.resolve('semver/package.json', {paths: [process.argv[1]]}))",
            str(npm_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, f"npm's own semver is not found from {npm_dir}: {found.stderr}"
    return Path(found.stdout.strip()).parent


def ask_npm(cases: list[tuple[str, bool]]) -> list[tuple[str | None, list[bool]]]:
    data = json.dumps({"ranges": cases, "versions": VERSIONS})
    done = subprocess.run(
        ["node", "-e", ORACLE, str(semver_package())],
        input=data,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [(valid, hits) for valid, hits in json.loads(done.stdout)]


def ours(range_: str, include_prerelease: bool) -> tuple[str | None, list[bool]]:
    try:
        parsed = Range.parse(range_, include_prerelease)
    except ValueError:
        return None, []
    return canonical(parsed), [parsed.test(parse_version(v)) for v in VERSIONS]


@pytest.mark.process
def test_every_range_parses_and_matches_as_npm_says() -> None:
    cases = [(r, flag) for r in ranges() for flag in (False, True)]
    answers = ask_npm(cases)
    differences = [
        (case, npm, ours(*case))
        for case, npm in zip(cases, answers, strict=True)
        if ours(*case) != (npm if case[0].isascii() else (None, []))
    ]
    assert not differences, differences[:5]  # stricter on purpose: non-ASCII is refused
    assert len(cases) > 900 and sum(valid is None for valid, _ in answers) > 100


def test_the_cases_the_pypi_port_got_wrong() -> None:
    def admits(version: str, range_: str, prerelease: bool) -> bool:
        return Range.parse(range_, prerelease).test(parse_version(version))

    assert admits("1.2.3", ">1.2.3-4", prerelease=True)
    assert not admits("1.2.3-3", ">1.2.3-4", prerelease=True)
    assert not admits("1.0.0-rc1", "^1.0.0", prerelease=True)
    assert admits("1.0.1-rc1", "^1.0.0", prerelease=True)
    assert not admits("1.0.1-rc1", "^1.0.0", prerelease=False)
    assert admits("1.0.0-rc2", "^1.0.0-rc1", prerelease=False)
    for refused in ("1.x.5", "x.1", "*.1", ">=1.x.5", "01.2.3", "1.2.3.4", "٣.1"):
        with pytest.raises(ValueError, match="invalid"):
            Range.parse(refused)
