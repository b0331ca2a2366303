"""Chaos: N missions on one home, two engines, random SIGKILLs, then a clean finish.

    python bench/chaos.py --missions 100 --kills 1000 [--rate 10] [--seed 1]

Two `houston serve` engines share one home (a killed engine is replaced at once). While
the missions run, the bench SIGKILLs, at `--rate` kills a second, an engine, a worker or
an agent (a task's shell), chosen at random, until `--kills` kills were made. Then it lets
the engines finish every mission, stops them cleanly, and counts what the crash rules
promise never happens:

* missions lost: not succeeded (a mission stopped by the crash cap is counted apart);
* accepted results run again: an attempt started after the one whose result was accepted;
* tasks run twice at once: an agent found its task's flock held by an earlier attempt;
* tasks never run; orphan processes left once the engines stopped; attempts without a
  record (no exit.json); and, for information, extra attempts (beyond one per task) and
  missions stopped by the crash cap, with the kills of that task's own processes.

Every agent leaves a background `sleep 300` behind (the orphan scenario): none may be
alive when its attempt is over. Scratch goes to .bench/ (or --dir), removed at exit.

`--disk-full` (root) puts the home on a small filesystem and, while the kills go on,
fills it to ENOSPC for `--full-seconds`, frees it for `--free-seconds`, again and again
(bench/_diskfull.py); it counts the engines' pauses and attempts interrupted by the full
disk. Engines that end by themselves are counted by exit code in every run (3: a fresh
engine cannot write its home and refuses to start; anything else is a crash).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import _diskfull as disk
import psutil
from _common import REPO, bench_env, table, temp_dir

from houston import actions
from houston.core.lifecycle import MissionState
from houston.home import attemptfiles, taskfiles
from houston.home.layout import Home
from houston.home.store import MissionStore

AGENT = """#!/bin/sh
# $1: scratch folder, $2: seconds of work. Journal lines: start/end/double M T A.
J="$1/journal"
echo "start $HOUSTON_MISSION $HOUSTON_TASK $HOUSTON_ATTEMPT" >> "$J"
sleep 300 &
flock -n -E 99 "$1/locks/$HOUSTON_MISSION.$HOUSTON_TASK" sleep "$2"
rc=$?
if [ $rc = 99 ]; then echo "double $HOUSTON_MISSION $HOUSTON_TASK $HOUSTON_ATTEMPT" >> "$J"; fi
[ $rc = 0 ] || exit $rc
echo "end $HOUSTON_MISSION $HOUSTON_TASK $HOUSTON_ATTEMPT" >> "$J"
echo "{\"attempt\": $HOUSTON_ATTEMPT}"
"""
KINDS = ("engine", "worker", "agent")


@dataclass
class Chaos:
    home: Home
    scratch: Path
    engines: int
    workers: int
    mark: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    task_kills: Counter[tuple[str, str]] = field(default_factory=Counter)
    restarts: int = 0
    exits: Counter[int] = field(default_factory=Counter)  # engines that ended by themselves
    ended: set[int] = field(default_factory=set)  # pids of the engines seen ended
    next_start: float = 0.0

    def env(self) -> dict[str, str]:
        return {**bench_env(), "CHAOS_MARK": self.mark}

    def start_engine(self) -> subprocess.Popen[bytes]:
        log = open(self.scratch / f"engine-{len(self.procs)}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "houston",
                "--home",
                str(self.home.root),
                "serve",
                "--no-ui",
                "--workers",
                str(self.workers),
            ],
            stdout=log,
            stderr=log,
            env=self.env(),
            cwd=REPO,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def live_engines(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def keep_engines(self) -> None:
        """A killed engine is replaced at once. One that ended by itself is counted, and the
        next start waits a second (no spinning while a full disk makes engines refuse)."""
        for proc in self.procs:
            if proc.poll() is not None and proc.pid not in self.ended:
                self.ended.add(proc.pid)
                if proc.returncode != -signal.SIGKILL:  # not the bench's own kill
                    self.exits[proc.returncode] += 1
                    self.next_start = time.monotonic() + 1.0
        while len(self.live_engines()) < self.engines and time.monotonic() >= self.next_start:
            self.start_engine()
            self.restarts += 1

    def workers_now(self) -> list[psutil.Process]:
        found = []
        for engine in self.live_engines():
            with contextlib.suppress(psutil.Error):
                found += [
                    c
                    for c in psutil.Process(engine.pid).children()
                    if "houston.engine.worker" in " ".join(c.cmdline())
                ]
        return found

    def agents_now(self, workers: list[psutil.Process]) -> list[psutil.Process]:
        found = []
        for worker in workers:
            with contextlib.suppress(psutil.Error):
                found += [c for c in worker.children() if c.name() == "sh"]
        return found

    def kill_one(self, rng: random.Random) -> str | None:
        workers = self.workers_now()
        agents = self.agents_now(workers)
        choices = {"engine": self.live_engines(), "worker": workers, "agent": agents}
        # The kind furthest behind its third of the kills; if none of it runs now (an
        # engine still starting its workers) this slot passes, so the mix stays even.
        behind = min(self.kills[k] for k in KINDS)
        kind = rng.choice([k for k in KINDS if self.kills[k] == behind])
        if not choices[kind]:
            return None
        target = rng.choice(choices[kind])
        if kind == "engine":
            assert isinstance(target, subprocess.Popen)
            os.kill(target.pid, signal.SIGKILL)
            target.wait()
        else:
            assert isinstance(target, psutil.Process)
            task = _task_of(target, kind) or _task_of_worker(self.home, target.pid)
            with contextlib.suppress(psutil.Error):
                target.kill()
            if task is not None:
                self.task_kills[task] += 1
        self.kills[kind] += 1
        return kind

    def stop(self, timeout: float = 60.0) -> None:
        for proc in self.live_engines():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc.pid not in self.ended:  # a clean stop exits 0; a forced one counts
                self.ended.add(proc.pid)
                if proc.returncode != 0:
                    self.exits[proc.returncode] += 1

    def leftovers(self) -> list[psutil.Process]:
        """Processes of this run still alive after its engines stopped (any of them)."""
        found = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if (
                    proc.environ().get("CHAOS_MARK") == self.mark
                    and proc.status() != psutil.STATUS_ZOMBIE
                ):
                    found.append(proc)
        return found


def _task_of(proc: psutil.Process, kind: str) -> tuple[str, str] | None:
    """The (mission, task) a worker or agent is working for, from its agent's environment."""
    try:
        agent = (
            proc
            if kind == "agent"
            else next((c for c in proc.children() if c.name() == "sh"), None)
        )
        if agent is None:
            return None
        env = agent.environ()
        return env["HOUSTON_MISSION"], env["HOUSTON_TASK"]
    except (psutil.Error, KeyError):
        return None


def _task_of_worker(home: Home, pid: int) -> tuple[str, str] | None:
    """The task whose lock a worker holds (it may not have started its agent yet)."""
    for folder in home.state_dir(MissionState.EXECUTING).glob("*/tasks/*/lock/owner.json"):
        with contextlib.suppress(OSError, ValueError):
            if int(json.loads(folder.read_text()).get("pid", 0)) == pid:
                return folder.parents[3].name, folder.parents[1].name
    return None


def submit_missions(
    home: Home, scratch: Path, count: int, tasks: int, rng: random.Random, crash_cap: int
) -> list[str]:
    agent = scratch / "agent.sh"
    agent.write_text(AGENT)
    (scratch / "locks").mkdir()
    ids = []
    for m in range(count):
        rows = []
        for t in range(tasks):
            seconds = round(rng.uniform(0.2, 1.5), 2)
            needs = ", needs: [t0]" if t else ""
            rows.append(
                f"  - {{id: t{t}, agent: core/shell{needs}, retries: 1, "
                f"inputs: {{argv: [sh, '{agent}', '{scratch}', '{seconds}']}}}}"
            )
        text = f"name: chaos-{m}\ncrash_cap: {crash_cap}\ntasks:\n" + "\n".join(rows) + "\n"
        ids.append(actions.submit(MissionStore(home), text.encode(), "chaos.yaml").id)
    return ids


def all_completed(store: MissionStore, ids: list[str]) -> bool:
    return store.count(MissionState.COMPLETED) >= len(ids)


def journal(scratch: Path) -> list[tuple[str, str, str, int]]:
    rows = []
    path = scratch / "journal"
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split()
        if len(parts) == 4 and parts[3].isdigit():
            rows.append((parts[0], parts[1], parts[2], int(parts[3])))
    return rows


def accepted_attempt(folder: Path, task: str) -> int | None:
    """The attempt whose result was accepted (each agent's result names its attempt)."""
    result = taskfiles.read_result(folder, task)
    return int(result["attempt"]) if result and "attempt" in result else None


@dataclass
class Tally:
    tasks: int = 0
    extra: int = 0  # attempts beyond the first of each task
    unrecorded: list[str] = field(default_factory=list)  # what each such folder holds
    reruns: int = 0
    never: int = 0
    lost: list[str] = field(default_factory=list)
    capped_kills: list[list[int]] = field(default_factory=list)


def judge_mission(
    tally: Tally,
    store: MissionStore,
    mission_id: str,
    starts: dict[tuple[str, str], list[int]],
    task_kills: Counter[tuple[str, str]],
    crash_cap: int,
) -> None:
    ref = store.locate(mission_id)
    done = ref.state is MissionState.COMPLETED
    succeeded = done and store.status(ref).get("outcome") == "succeeded"
    cap_kills, unrun = [], 0
    for task in taskfiles.task_ids(ref.path):
        numbers = taskfiles.attempt_numbers(ref.path, task)
        tally.tasks += 1
        tally.extra += max(0, len(numbers) - 1)
        for n in numbers:
            folder = taskfiles.attempt_dir(ref.path, task, n)
            if attemptfiles.read_exit(folder) is None:
                tally.unrecorded.append(f"{mission_id}/{task}/{n}: {sorted(os.listdir(folder))}")
        accepted = accepted_attempt(ref.path, task)
        ran = starts.get((mission_id, task), [])
        tally.reruns += bool(accepted and any(a > accepted for a in ran))
        unrun += not ran
        state = taskfiles.read_state(ref.path, task)
        error = (state.error if state else None) or ""
        if error.startswith("stopped by the crash cap"):
            cap_kills.append(task_kills[(mission_id, task)])
    # The cap working: the bench killed that task's own processes more often than it allows.
    if cap_kills and not succeeded and all(k > crash_cap for k in cap_kills):
        tally.capped_kills.append(cap_kills)
        return  # the tasks it had not started were cancelled: not "never run"
    tally.never += unrun
    if not succeeded:  # with why: each task's error and the bench's kills of it
        states = {t: taskfiles.read_state(ref.path, t) for t in taskfiles.task_ids(ref.path)}
        errors = [
            f"{t}: {state.error} (killed {task_kills[(mission_id, t)]}x)"
            for t, state in states.items()
            if state and state.state == "failed"
        ]
        tally.lost.append(f"{mission_id} {ref.state.value}: {'; '.join(errors)}")


def judge(chaos: Chaos, ids: list[str], orphans: int, crash_cap: int) -> dict[str, object]:
    store = MissionStore(chaos.home)
    rows = journal(chaos.scratch)
    starts: dict[tuple[str, str], list[int]] = {}
    for kind, mission, task, attempt in rows:
        if kind == "start":
            starts.setdefault((mission, task), []).append(attempt)
    doubles = {(m, t) for kind, m, t, _ in rows if kind == "double"}
    tally = Tally()
    for mission_id in ids:
        judge_mission(tally, store, mission_id, starts, chaos.task_kills, crash_cap)
    kills = Counter(k for found in tally.capped_kills for k in found)
    told = ", ".join(f"{n} tasks killed {k}x" for k, n in sorted(kills.items()))
    return {
        "missions": len(ids),
        "kills": sum(chaos.kills.values()),
        "lost": len(tally.lost),
        "accepted results run again": tally.reruns,
        "tasks run twice at once": len(doubles),
        "tasks never run": tally.never,
        "orphans left": orphans,
        "attempts without a record": len(tally.unrecorded),
        "extra attempts": tally.extra,
        "stopped by the crash cap": f"{len(tally.capped_kills)}" + (f" ({told})" if told else ""),
        "lost ids": tally.lost,
        "unrecorded": tally.unrecorded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missions", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=10, help="tasks per mission")
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5.0, help="kills per second")
    parser.add_argument("--engines", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="task workers per engine")
    parser.add_argument("--crash-cap", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--finish-timeout", type=float, default=1200.0)
    parser.add_argument("--dir", default=None, help="scratch parent (default .bench/)")
    disk.add_disk_full_arguments(parser)
    args = parser.parse_args()
    if args.dir:
        import _common

        _common.SCRATCH_PARENT = args.dir
    rng = random.Random(args.seed)
    with temp_dir("chaos-") as scratch, contextlib.ExitStack() as stack:
        # The journal, locks and agent stay on the bench's disk: only the home fills up.
        fs = disk.small_filesystem(scratch / "fs", args.fs, args.fs_mib)
        root = stack.enter_context(fs) if args.disk_full else scratch
        home = Home(root / ".houston").ensure()
        ids = submit_missions(home, scratch, args.missions, args.tasks, rng, args.crash_cap)
        chaos = Chaos(home, scratch, args.engines, args.workers, f"chaos-{os.getpid()}")
        filler = disk.Filler(root, args.full_seconds, args.free_seconds) if args.disk_full else None
        started = time.monotonic()
        result = run(chaos, ids, args, rng, filler)
        result["seconds"] = round(time.monotonic() - started, 1)
    report(chaos, result, args)


def run(
    chaos: Chaos,
    ids: list[str],
    args: argparse.Namespace,
    rng: random.Random,
    filler: disk.Filler | None = None,
) -> dict[str, object]:
    store = MissionStore(chaos.home)
    try:
        chaos.keep_engines()
        if filler is not None:  # fills and frees the disk for as long as the kills go on
            filler.start()
        next_kill = time.monotonic() + 1.0
        while sum(chaos.kills.values()) < args.kills and not all_completed(store, ids):
            chaos.keep_engines()
            now = time.monotonic()
            if now >= next_kill:
                chaos.kill_one(rng)
                next_kill = max(next_kill + 1.0 / args.rate, now - 1.0)
            time.sleep(max(0.0, min(0.05, next_kill - time.monotonic())))
        if filler is not None:
            filler.stop()  # the space is free again for the clean finish
        deadline = time.monotonic() + args.finish_timeout
        while not all_completed(store, ids) and time.monotonic() < deadline:
            chaos.keep_engines()
            time.sleep(0.2)
    finally:
        if filler is not None:
            filler.stop()
        chaos.stop()
    left = chaos.leftovers()
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    logs = [*chaos.scratch.glob("engine-*.log"), chaos.home.run / "workers.log"]
    tracebacks = sum(p.read_text(errors="replace").count("Traceback") for p in logs if p.exists())
    result = judge(chaos, ids, len(left), args.crash_cap)
    result["tracebacks in logs"] = tracebacks
    result["engine exits"] = (
        ", ".join(f"{n}x code {code}" for code, n in sorted(chaos.exits.items())) or "0"
    )
    if filler is not None:
        result.update(disk.disk_full_counts(filler, logs, chaos.home.missions))
    return result


def report(chaos: Chaos, result: dict[str, object], args: argparse.Namespace) -> None:
    kills = ", ".join(f"{chaos.kills[k]} {k}s" for k in KINDS)
    print(
        f"{args.missions} missions x {args.tasks} tasks, {args.engines} engines x "
        f"{args.workers} workers, {result['kills']} SIGKILLs ({kills}) at {args.rate}/s, "
        f"{chaos.restarts} engine restarts, {result['seconds']} s in all"
    )
    columns = [
        "missions",
        "kills",
        "lost",
        "accepted results run again",
        "tasks run twice at once",
        "tasks never run",
        "orphans left",
        "attempts without a record",
        "extra attempts",
        "stopped by the crash cap",
        "tracebacks in logs",
        "engine exits",
    ]
    print(table(columns, [[result[c] for c in columns]]))
    if args.disk_full:
        disk.report_disk_full(result, args.fs, args.fs_mib)
    for key in ("lost ids", "unrecorded", "filler errors"):
        for item in result.get(key, [])[:10]:  # type: ignore[index]
            print(f"{key}: {item}")


if __name__ == "__main__":
    main()
