"""The malicious-archive suite: every bad archive is refused with exit 2, writing nothing."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from helpers.packages import cli, make_package, make_tar, manifest_text, regular, snapshot, special

GOOD_MANIFEST = manifest_text("evil", "1.0.0").encode()
SKIP = (".houston/run", ".houston/packages/.tmp")  # the install lock and the staging area


def evil_cases(tmp: Path) -> dict[str, tuple[list[tuple[tarfile.TarInfo, bytes | None]], str]]:
    absolute = str(tmp / "escaped-absolute.txt")
    return {
        "traversal": (
            [regular("package.yaml", GOOD_MANIFEST), regular("../escaped.txt", b"x")],
            "'..'",
        ),
        "nested-traversal": (
            [regular("package.yaml", GOOD_MANIFEST), regular("agents/../../escaped.txt", b"x")],
            "'..'",
        ),
        "absolute": (
            [regular("package.yaml", GOOD_MANIFEST), regular(absolute, b"x")],
            "absolute path",
        ),
        "symlink": (
            [
                regular("package.yaml", GOOD_MANIFEST),
                special("link", tarfile.SYMTYPE, "/etc/passwd"),
            ],
            "symlink",
        ),
        "symlink-dir-escape": (
            [
                special("agents", tarfile.SYMTYPE, str(tmp)),
                regular("agents/escaped.txt", b"x"),
                regular("package.yaml", GOOD_MANIFEST),
            ],
            "symlink",
        ),
        "hardlink": (
            [
                regular("package.yaml", GOOD_MANIFEST),
                special("hard", tarfile.LNKTYPE, "/etc/passwd"),
            ],
            "hardlink",
        ),
        "char-device": (
            [regular("package.yaml", GOOD_MANIFEST), special("tty", tarfile.CHRTYPE)],
            "device",
        ),
        "block-device": (
            [regular("package.yaml", GOOD_MANIFEST), special("sda", tarfile.BLKTYPE)],
            "device",
        ),
        "fifo": (
            [regular("package.yaml", GOOD_MANIFEST), special("pipe", tarfile.FIFOTYPE)],
            "only regular files",
        ),
        "duplicate": (
            [
                regular("package.yaml", GOOD_MANIFEST),
                regular("package.yaml", b"name: other\nversion: 9.9.9\n"),
            ],
            "duplicate",
        ),
        "file-after-its-children": (
            [regular("package.yaml", GOOD_MANIFEST), regular("a/b", b"y"), regular("a", b"x")],
            "other members lie under it",
        ),
        "under-a-file": (
            [regular("package.yaml", GOOD_MANIFEST), regular("a", b"x"), regular("a/b", b"y")],
            "under the file",
        ),
    }


@pytest.mark.parametrize("case", sorted(evil_cases(Path("/x"))))
def test_malicious_archive_is_refused(tmp_path: Path, case: str) -> None:
    members, expected = evil_cases(tmp_path)[case]
    archive = make_tar(tmp_path / "evil-1.0.0.tar.gz", members)
    before = snapshot(tmp_path, SKIP)
    result = cli("--home", str(tmp_path / ".houston"), "package", "install", str(archive))
    assert result.code == 2, result
    assert expected in result.err and str(archive) in result.err
    assert_nothing_written(tmp_path, before)


def assert_nothing_written(tmp_path: Path, before: set[str]) -> None:
    after = snapshot(tmp_path, SKIP)
    created = {p for p in after - before if p != ".houston" and not p.startswith(".houston/")}
    assert not created, created
    packages = tmp_path / ".houston" / "packages"
    assert not [p for p in packages.iterdir() if p.name != ".tmp"] if packages.exists() else True
    staging = packages / ".tmp"
    assert not staging.exists() or not any(staging.iterdir())
    assert not (tmp_path / ".houston" / "houston.lock").exists()


def test_size_bomb_is_refused_before_extraction(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "evil-1.0.0.tar.gz",
        [regular("package.yaml", GOOD_MANIFEST), regular("zeros.bin", bytes(50_000))],
    )
    before = snapshot(tmp_path, SKIP)
    result = cli(
        "--home",
        str(tmp_path / ".houston"),
        "package",
        "install",
        str(archive),
        env={"HOUSTON_PKG_MAX_BYTES": "10000"},
    )
    assert result.code == 2 and "more than 10000 bytes" in result.err
    assert_nothing_written(tmp_path, before)


def test_member_count_bomb_is_refused(tmp_path: Path) -> None:
    members = [regular("package.yaml", GOOD_MANIFEST)]
    members += [regular(f"f{i}.txt", b"") for i in range(60)]
    archive = make_tar(tmp_path / "evil-1.0.0.tar.gz", members)
    before = snapshot(tmp_path, SKIP)
    result = cli(
        "--home",
        str(tmp_path / ".houston"),
        "package",
        "install",
        str(archive),
        env={"HOUSTON_PKG_MAX_MEMBERS": "50"},
    )
    assert result.code == 2 and "more than 50 members" in result.err
    assert_nothing_written(tmp_path, before)


def test_archive_cap_applies_while_hashing(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "evil-1.0.0.tar.gz", [regular("package.yaml", GOOD_MANIFEST)])
    result = cli(
        "--home",
        str(tmp_path / ".houston"),
        "package",
        "install",
        str(archive),
        env={"HOUSTON_PKG_MAX_ARCHIVE_BYTES": "10"},
    )
    assert result.code == 2 and "larger than the 10 byte cap" in result.err


def test_digest_mismatch_is_refused_before_opening(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "evil-1.0.0.tar.gz", [regular("package.yaml", GOOD_MANIFEST)])
    archive.with_name(archive.name + ".sha256").write_text("0" * 64 + "  evil-1.0.0.tar.gz\n")
    before = snapshot(tmp_path, SKIP)
    result = cli("--home", str(tmp_path / ".houston"), "package", "install", str(archive))
    assert result.code == 2 and "sha256 mismatch" in result.err
    assert_nothing_written(tmp_path, before)


def test_missing_digest_file_is_refused(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "evil-1.0.0.tar.gz", [regular("package.yaml", GOOD_MANIFEST)], sha256=False
    )
    result = cli("--home", str(tmp_path / ".houston"), "package", "install", str(archive))
    assert result.code == 2 and "no .sha256 file" in result.err


def test_garbage_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil-1.0.0.tar.gz"
    archive.write_bytes(b"not a tarball at all" * 10)
    from helpers.packages import write_sha256

    write_sha256(archive)
    result = cli("--home", str(tmp_path / ".houston"), "package", "install", str(archive))
    assert result.code == 2 and "not a readable .tar.gz" in result.err


def test_malicious_archive_in_a_registry_is_refused(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    make_tar(
        registry / "evil-1.0.0.tar.gz",
        [regular("package.yaml", GOOD_MANIFEST), regular("../escaped.txt", b"x")],
    )
    before = snapshot(tmp_path, SKIP)
    result = cli(
        "--home",
        str(tmp_path / ".houston"),
        "package",
        "install",
        "evil@^1",
        env={"HOUSTON_REGISTRY": str(registry)},
    )
    assert result.code == 2 and "'..'" in result.err
    assert_nothing_written(tmp_path, before)


def test_folder_with_a_symlink_is_refused(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "src", "linky", "1.0.0")
    (folder / "agents" / "secret.md").symlink_to("/etc/passwd")
    result = cli("--home", str(tmp_path / ".houston"), "package", "install", str(folder))
    assert result.code == 2 and "link" in result.err
