"""The dashboard with many missions: time to the first list and time to filter, in a real
Chromium (Playwright, Debian's /usr/bin/chromium), plus the API alone over HTTP.

    python bench/dashboard.py            # --missions 10000 --repeat 3

Missions are written into a scratch home as an engine leaves them (status.json,
mission.yaml; tests/helpers/dashboard.py). Each figure is the median of `--repeat` runs:

- `first list`: page load until the first 50 cards and "of N" are on screen;
- `... right after a server start`: the first list, then the first search typed at once,
  while the server fills its index in the background. At the first start on a home (run
  again by deleting run/mission-index.json) it reads every status.json; at later starts it
  reads the index file the last one left in run/ (checked against each status.json and
  COMPLETED's folder) and only what changed. Chromium's own first page is loaded (from an
  empty home) before anything is timed;
- `filter`: a later search, then a filter by outcome and package, until the page shows it;
- `api ...`: the same requests without the browser.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import bench_home, table, temp_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.dashboard import make_missions

from houston.server.launcher import ServerHandle, start

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 60_000


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def wait_info(page: Any, text: str) -> None:
    page.wait_for_function(
        "(t) => document.getElementById('page-info').textContent.endsWith(t)",
        arg=text,
        timeout=TIMEOUT_MS,
    )


def browser_round(page: Any, handle: ServerHandle, total: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    page.goto(handle.url)  # the token becomes a cookie; not timed
    wait_info(page, f"of {total:,}")
    began = time.perf_counter()
    page.goto(f"{handle.base_url}/#/")
    page.reload()
    wait_info(page, f"of {total:,}")
    figures["first list"] = time.perf_counter() - began
    began = time.perf_counter()
    page.fill("#f-q", "nightly")
    wait_info(page, f"of {total // 2:,}")
    figures["filter"] = time.perf_counter() - began
    began = time.perf_counter()
    page.select_option("#f-outcome", "failed")
    page.fill("#f-package", "beta")
    wait_info(page, f"of {len(range(1, total + 1, 6)):,}")
    figures["filter+outcome+package"] = time.perf_counter() - began
    return figures


def api_round(handle: ServerHandle) -> dict[str, float]:
    import httpx

    figures: dict[str, float] = {}
    with httpx.Client(headers={"Authorization": f"Bearer {handle.token}"}) as client:
        for label, query in (
            ("api first page", ""),
            ("api search", "?q=nightly&sort=name"),
            ("api filter", "?outcome=failed&package=beta&sort=cost"),
        ):
            began = time.perf_counter()
            client.get(f"{handle.base_url}/api/missions{query}").raise_for_status()
            figures[label] = time.perf_counter() - began
    return figures


def cold_round(
    home: Any, page: Any, total: int, label: str, first_start: bool = False
) -> dict[str, float]:
    """A fresh server: its first list, then its first search. `first_start`: as on the
    first start on this home, without the index file a previous start left."""
    if first_start:
        (home.mission_index).unlink(missing_ok=True)
    handle = start(home, port=0)
    try:
        began = time.perf_counter()
        page.goto(handle.url)
        wait_info(page, f"of {total:,}")
        listed = time.perf_counter() - began
        began = time.perf_counter()
        page.fill("#f-q", "nightly")
        wait_info(page, f"of {total // 2:,}")
        searched = time.perf_counter() - began
    finally:
        handle.stop()
    return {
        f"first list right after a server start ({label})": listed,
        f"first search right after a server start ({label})": searched,
    }


def warm_up_browser(root: Path, page: Any) -> None:
    """Chromium's own first page (its renderer starting) is not the server's: load the
    dashboard of an empty home once before anything is timed."""
    handle = start(bench_home(root / "empty"), port=0)
    try:
        page.goto(handle.url)
        wait_info(page, "0 missions")
    finally:
        handle.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--missions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with temp_dir("houston-bench-dashboard") as root:
        home = bench_home(root)
        began = time.perf_counter()
        make_missions(home, args.missions)
        print(f"{args.missions:,} missions written in {time.perf_counter() - began:.1f} s")
        runs: dict[str, list[float]] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            warm_up_browser(root, page)
            cold = [
                cold_round(home, page, args.missions, "first start on this home", first_start=True)
                for _ in range(args.repeat)
            ]
            cold += [
                cold_round(home, page, args.missions, "index file of the last start")
                for _ in range(args.repeat)
            ]
            for figures in cold:
                for key, value in figures.items():
                    runs.setdefault(key, []).append(value)
            handle = start(home, port=0)
            try:
                api_round(handle)  # untimed: the index is filled once per server
                for _ in range(args.repeat):
                    for key, value in {
                        **browser_round(page, handle, args.missions),
                        **api_round(handle),
                    }.items():
                        runs.setdefault(key, []).append(value)
            finally:
                handle.stop()
                browser.close()
    rows = [
        [k, f"{ms(statistics.median(v))} ms", f"{ms(max(v))} ms", "under 1 s"]
        for k, v in runs.items()
    ]
    print(f"\n{args.missions:,} missions, median of {args.repeat}")
    print(table(["measure", "median", "worst", "target"], rows))


if __name__ == "__main__":
    main()
