"""Air-gapped transfer (the Factor XII seed's Pattern 2: collect, transfer, load, deploy).

`create` collects, on a connected machine, everything a machine without a network needs:
the resolved packages with their dependencies (as registry archives), the Houston wheel
and every Python dependency as wheels, the rendered Kubernetes manifests, and
`bundle.json` listing the sha256 of every file. It writes one tarball and its `.sha256`.

`load` checks the tarball's digest before opening it, validates its members like a
package archive, extracts it into a temp folder beside its destination, compares every
file with `bundle.json` (no file missing, none extra, none changed), and only then renames
it into place and installs the packages (into a home, or copies them into a registry
folder). A bundle that fails any check leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from houston import __version__
from houston.core.errors import PackageError, UsageError
from houston.home.fsio import write_bytes_atomic
from houston.home.layout import Home
from houston.pkg import archive
from houston.pkg.build import archive_name, pack_bytes, write_archive
from houston.pkg.install import build_index, install
from houston.pkg.resolve import resolve
from houston.pkg.versions import require

MANIFEST = "bundle.json"
FORMAT = 1
OVERLAYS = ("local-dev", "production", "tenants")
# Wheels make a bundle far larger than a package: caps of their own.
LIMITS = archive.Limits(max_members=20_000, max_bytes=4 << 30, max_archive_bytes=2 << 30)


@dataclass
class Created:
    path: Path
    digest: str
    packages: dict[str, str]
    files: int


def source_root() -> Path | None:
    """The source tree Houston runs from (an editable install), if any."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of every regular file under `root`, by relative POSIX path (sorted)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            found[path.relative_to(root).as_posix()] = archive.sha256_file(path)
    return found


def compare(listed: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    """Pure: what differs between bundle.json and the files extracted (empty if none)."""
    problems = [f"missing: {name}" for name in sorted(listed.keys() - found.keys())]
    problems += [f"not listed: {name}" for name in sorted(found.keys() - listed.keys())]
    problems += [
        f"changed: {name}"
        for name in sorted(listed.keys() & found.keys())
        if listed[name] != found[name]
    ]
    return problems


def collect_packages(
    home: Home, requested: list[str], into: Path, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Resolve `requested` and write each chosen package as an archive + .sha256."""
    index = build_index(home, environ)
    resolution = resolve([require(text) for text in requested], index, houston_version=__version__)
    into.mkdir(parents=True, exist_ok=True)
    for name, version in sorted(resolution.versions.items()):
        item = index.published(name, version)
        item.load(index.limits)
        if item.is_archive:
            archive.check_digest(item.path, index.limits)
            shutil.copyfile(item.path, into / archive_name(name, version))
            shutil.copyfile(
                archive.digest_path(item.path),
                archive.digest_path(into / archive_name(name, version)),
            )
        else:
            write_archive(pack_bytes(item.path), into, name, version)
    return dict(sorted(resolution.versions.items()))


def collect_wheels(into: Path, houston_wheel: Path | None) -> None:
    """Houston's wheel and the wheels of all its dependencies (pip resolves them)."""
    into.mkdir(parents=True, exist_ok=True)
    target = str(houston_wheel) if houston_wheel else str(source_root() or "")
    if not target:
        raise UsageError(
            "Houston runs from an installed wheel, not from its sources",
            fix="pass --houston-wheel FILE (the wheel it was installed from)",
        )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(into), target],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise PackageError(
            f"pip could not collect the wheels: {done.stderr.strip()[-2000:]}",
            fix="check the network and the package index on this machine",
        )


def render_manifests(into: Path) -> list[str]:
    """`kubectl kustomize` of every overlay of deploy/k8s (the `deploy` extra's kubectl)."""
    root = source_root()
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if root is None or not (root / "deploy" / "k8s").is_dir() or kubectl is None:
        raise UsageError(
            "cannot render the Kubernetes manifests here",
            fix="run from Houston's sources with `pip install -e '.[deploy]'`, "
            "or pass --no-manifests",
        )
    into.mkdir(parents=True, exist_ok=True)
    for overlay in OVERLAYS:
        done = subprocess.run(
            [kubectl, "kustomize", str(root / "deploy/k8s/overlays" / overlay)],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if done.returncode != 0:
            raise PackageError(f"kubectl kustomize {overlay} failed: {done.stderr.strip()}")
        (into / f"{overlay}.yaml").write_text(done.stdout)
    return list(OVERLAYS)


def create(
    home: Home,
    requested: list[str],
    out_dir: Path,
    *,
    wheels: bool = True,
    manifests: bool = True,
    houston_wheel: Path | None = None,
    now: datetime | None = None,
) -> Created:
    """Collect into a temp folder, then write `<out>/<name>.tar.gz` and its `.sha256`."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    name = f"houston-bundle-{__version__}-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bundle-", dir=out_dir) as scratch:
        stage = Path(scratch) / name
        packages = collect_packages(home, requested, stage / "registry")
        if wheels:
            collect_wheels(stage / "wheels", houston_wheel)
        rendered = render_manifests(stage / "manifests") if manifests else []
        digests = file_digests(stage)
        manifest = {
            "format": FORMAT,
            "houston": __version__,
            "created": stamp,
            "requested": requested,
            "packages": packages,
            "manifests": rendered,
            "files": digests,
        }
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        data = pack_bytes(stage.parent)
    path = out_dir / f"{name}.tar.gz"
    digest = hashlib.sha256(data).hexdigest()
    write_bytes_atomic(path, data)
    write_bytes_atomic(archive.digest_path(path), f"{digest}  {path.name}\n".encode("ascii"))
    return Created(path, digest, packages, len(digests) + 1)


@dataclass
class Loaded:
    folder: Path
    packages: dict[str, str]
    installed: list[dict[str, str]]
    pip_line: str


def open_verified(bundle: Path, destination_parent: Path) -> tuple[Path, dict[str, Any]]:
    """Digest, members, then every file: the extracted folder (still in a temp folder)
    and its bundle.json. On any failure the temp folder is gone and PackageError raised."""
    archive.check_digest(bundle, LIMITS)  # before the tarball is ever opened
    made_parent = not destination_parent.exists()
    destination_parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".bundle-", dir=destination_parent))
    try:
        archive.extract_verified(bundle, scratch, LIMITS)
        tops = os.listdir(scratch)
        if len(tops) != 1 or not (scratch / tops[0] / MANIFEST).is_file():
            raise PackageError(
                "not a Houston bundle (no single folder with bundle.json)", where=str(bundle)
            )
        folder = scratch / tops[0]
        manifest = read_bundle_manifest(folder / MANIFEST)
        problems = compare(manifest["files"], file_digests(folder))
        if problems:
            raise PackageError(
                "bundle contents do not match bundle.json: " + "; ".join(problems[:10]),
                where=str(bundle),
                fix="the bundle was damaged or tampered with; copy it again "
                "from the machine that created it",
            )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        if made_parent:
            destination_parent.rmdir()
        raise
    return folder, manifest


def read_bundle_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise PackageError(f"unreadable bundle.json: {exc}", where=str(path)) from exc
    ok = (
        isinstance(data, dict)
        and data.get("format") == FORMAT
        and isinstance(data.get("files"), dict)
        and isinstance(data.get("packages"), dict)
        and isinstance(data.get("requested"), list)
    )
    if not ok:
        raise PackageError(
            f"bundle.json is not a format {FORMAT} bundle manifest",
            where=str(path),
            fix="load it with the Houston that created it",
        )
    return dict(data)


def load(
    bundle: Path, home: Home, *, registry: Path | None = None, into: Path | None = None
) -> Loaded:
    """Verify, place the bundle under `into` (default `<home>/bundles/`), then install its
    packages into `home`, or copy them into the `registry` folder."""
    parent = into or home.root / "bundles"
    folder, manifest = open_verified(bundle, parent)
    scratch = folder.parent
    final = parent / folder.name
    try:
        if final.exists():
            raise UsageError(
                f"{final} already exists (this bundle was loaded before)",
                fix="remove that folder, or pass --dir elsewhere",
            )
        os.rename(folder, final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if registry is not None:
        installed = copy_into_registry(final / "registry", registry)
    else:
        env = dict(os.environ)
        env["HOUSTON_REGISTRY"] = os.pathsep.join(
            p for p in [str(final / "registry"), env.get("HOUSTON_REGISTRY", "")] if p
        )
        report = install(home, [str(r) for r in manifest["requested"]], environ=env)
        installed = [c.to_json() for c in report.changes]
    wheels = final / "wheels"
    pip_line = (
        f"pip install --no-index --find-links {wheels} houston=={manifest['houston']}"
        if wheels.is_dir()
        else ""
    )
    return Loaded(final, dict(manifest["packages"]), installed, pip_line)


def copy_into_registry(source: Path, registry: Path) -> list[dict[str, str]]:
    """Each archive and its .sha256, digest checked again, into a registry folder."""
    registry.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.glob("*.tar.gz")):
        archive.check_digest(path, archive.Limits())
        for item in (path, archive.digest_path(path)):
            write_bytes_atomic(registry / item.name, item.read_bytes())
        copied.append({"archive": path.name, "action": "copied", "source": str(registry)})
    return copied
