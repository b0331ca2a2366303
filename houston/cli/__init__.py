"""The `houston` command line: thin click commands over the library."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """The entry point. `--version` is answered before click and the commands load, so
    that scripts and shells asking for it pay for the interpreter only."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from houston import __version__

        print(f"houston, version {__version__}")  # as click's version_option says it
        return
    from houston.cli.main import main as run

    run(argv)
