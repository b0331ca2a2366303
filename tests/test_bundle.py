"""`houston bundle`: create on a connected machine, load where no index is reachable.

End to end: packages from a registry folder, the Houston wheel and its dependencies'
wheels, the rendered manifests; loaded into a fresh home, Houston installed into a fresh
venv with `pip --no-index`, a mission run from the bundle's package. A tampered bundle is
refused with exit 2 and leaves nothing installed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from houston.pkg.bundle import compare

pytestmark = pytest.mark.process

HOUSTON = [sys.executable, "-m", "houston"]


def houston(
    *args: str,
    env: dict[str, str] | None = None,
    exe: list[str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(exe or HOUSTON), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def write_package(root: Path, name: str, version: str, deps: list[str]) -> None:
    folder = root / f"{name}-{version}"
    (folder / "agents").mkdir(parents=True)
    lines = [
        f"name: {name}",
        f"version: {version}",
        f"description: {name} for bundles",
        "agents:",
        "  - hello",
    ]
    if deps:
        lines += ["dependencies:", *(f'  - "{d}"' for d in deps)]
    (folder / "package.yaml").write_text("\n".join(lines) + "\n")
    (folder / "agents" / "hello.md").write_text(
        "---\nname: hello\ndescription: Greets.\nrunner: python\nentrypoint: greet:hello\n---\n"
    )
    (folder / "greet.py").write_text(
        "def hello(ctx):\n"
        f"    return {{'greeting': 'hello ' + ctx.inputs['name'], 'from': '{name}@{version}'}}\n"
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bundle-src")
    registry = root / "registry"
    write_package(registry, "greet-lib", "1.0.0", [])
    write_package(registry, "greet", "1.2.0", ["greet-lib@^1"])
    write_package(registry, "greet", "2.0.0", ["greet-lib@^1"])
    env = {**os.environ, "HOUSTON_REGISTRY": str(registry)}
    done = houston(
        "--home",
        str(root / "h"),
        "bundle",
        "create",
        "greet@^1",
        "--out",
        str(root / "out"),
        "--json",
        env=env,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["packages"] == {"greet": "1.2.0", "greet-lib": "1.0.0"}
    env.pop("HOUSTON_REGISTRY")  # the loading side knows no registry
    return Path(info["bundle"]), env


def members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle, "r:gz") as tar:
        return {
            m.name: (tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


def test_bundle_holds_packages_wheels_manifests_and_their_digests(
    made: tuple[Path, dict[str, str]],
) -> None:
    bundle, _ = made
    sidecar = bundle.with_name(bundle.name + ".sha256").read_text().split()[0]
    assert sidecar == hashlib.sha256(bundle.read_bytes()).hexdigest()
    files = members(bundle)
    top = bundle.name.removesuffix(".tar.gz")
    manifest = json.loads(files[f"{top}/bundle.json"])
    names = {n.removeprefix(top + "/") for n, data in files.items() if data}
    assert names - {"bundle.json"} == set(manifest["files"])
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(files[f"{top}/{name}"]).hexdigest() == digest
    assert {
        "registry/greet-1.2.0.tar.gz",
        "registry/greet-lib-1.0.0.tar.gz",
        "manifests/production.yaml",
    } <= names
    wheels = {n.split("/")[-1].split("-")[0].lower() for n in names if n.endswith(".whl")}
    assert {"houston", "click", "pydantic", "starlette", "uvicorn", "psutil"} <= wheels


def assert_nothing_installed(home: Path) -> None:
    assert not (home / "packages").exists() or not any(
        p for p in (home / "packages").iterdir() if not p.name.startswith(".")
    )
    assert not (home / "houston.lock").exists()
    assert not (home / "bundles").exists()


def test_a_changed_byte_is_refused_before_the_tarball_is_opened(
    made: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bundle, env = made
    copy = tmp_path / bundle.name
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    copy.with_name(copy.name + ".sha256").write_text(
        bundle.with_name(bundle.name + ".sha256").read_text()
    )
    done = houston("--home", str(tmp_path / "h"), "bundle", "load", str(copy), env=env)
    assert done.returncode == 2, done.stderr
    assert "sha256 mismatch" in done.stderr
    assert_nothing_installed(tmp_path / "h")


def test_a_swapped_file_with_a_matching_outer_digest_is_refused(
    made: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    # Whoever swaps a wheel and recomputes the tarball's .sha256 still fails bundle.json.
    bundle, env = made
    raw = io.BytesIO()
    with tarfile.open(bundle, "r:gz") as source, tarfile.open(fileobj=raw, mode="w:gz") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name.endswith("/greet-1.2.0.tar.gz.sha256"):
                data = b"0" * 64 + b"  greet-1.2.0.tar.gz\n"
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    copy = tmp_path / bundle.name
    copy.write_bytes(raw.getvalue())
    digest = hashlib.sha256(raw.getvalue()).hexdigest()
    copy.with_name(copy.name + ".sha256").write_text(f"{digest}  {copy.name}\n")
    done = houston("--home", str(tmp_path / "h"), "bundle", "load", str(copy), env=env)
    assert done.returncode == 2, done.stderr
    assert "changed: registry/greet-1.2.0.tar.gz.sha256" in done.stderr
    assert_nothing_installed(tmp_path / "h")


def test_load_into_a_fresh_venv_and_home_then_run_a_mission(
    made: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bundle, env = made
    home = tmp_path / "home"
    done = houston("--home", str(home), "bundle", "load", str(bundle), "--json", env=env)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert {c["name"] for c in loaded["installed"] if c["action"] == "installed"} == {
        "greet",
        "greet-lib",
    }
    pip_line = loaded["pip"].split()
    assert pip_line[:4] == ["pip", "install", "--no-index", "--find-links"]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    clean = {k: v for k, v in env.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))}
    clean["PIP_CONFIG_FILE"] = os.devnull  # no index or find-links from this machine's config
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", *pip_line],
        env=clean,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    mission = tmp_path / "mission.yaml"
    mission.write_text(
        "name: offline\nrequires: ['greet@^1']\ntasks:\n"
        "  - id: hi\n    agent: greet/hello\n    inputs: {name: island}\n"
    )
    ran = houston(
        "--home",
        str(home),
        "run",
        str(mission),
        "--no-ui",
        "--workers",
        "1",
        exe=[str(venv / "bin" / "houston")],
        env=clean,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    results = list(home.glob("missions/COMPLETED/*/tasks/hi/result.json"))
    assert len(results) == 1
    assert json.loads(results[0].read_text()) == {"greeting": "hello island", "from": "greet@1.2.0"}


def test_compare_names_every_difference() -> None:
    listed = {"a": "1", "b": "2", "c": "3"}
    assert compare(listed, {"a": "1", "b": "x", "d": "4"}) == [
        "missing: c",
        "not listed: d",
        "changed: b",
    ]
    assert compare(listed, dict(listed)) == []
