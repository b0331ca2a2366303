"""The mission list's index built in a child process, at a server's first start on a home.

Without run/mission-index.json (the first start, or after an upgrade of its format) the
index must read every status.json: 10,000 of them take a few tenths of a second of CPU.
In the server's own process that time is taken from the first page by Python's GIL; a
child process (`python -m houston.server.indexbuild HOME`) does it on another core while
the first page is served, writes the file, and the server reads it (checked row by row as
always). A child that fails leaves no file: the server then scans in its own process.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from pathlib import Path

BUILD_TIMEOUT = 120.0  # seconds; past it the child is killed and the server scans itself


class IndexBuilder:
    """One child for the server's life; `stop` kills it if it still runs."""

    def __init__(self, home_root: Path) -> None:
        self.home_root = home_root
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopped = False
        self.lock = threading.Lock()

    def run(self) -> bool:
        """Start the child and wait for it; True if it wrote the file."""
        with self.lock:
            if self.stopped:
                return False
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "houston.server.indexbuild", str(self.home_root)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
            except OSError:
                return False
        try:
            return self.proc.wait(BUILD_TIMEOUT) == 0
        except subprocess.TimeoutExpired:
            self.stop()
            return False

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()


def main(argv: list[str]) -> int:
    from houston.home import Home
    from houston.server import indexfile, listing
    from houston.store import MissionStore

    home = Home(Path(argv[0]))
    index = listing.MissionIndex(MissionStore(home), cache=home.run / indexfile.FILE_NAME)
    index.warm()
    return 0 if (home.run / indexfile.FILE_NAME).is_file() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
