"""Telemetry of running attempts: resource samples and log lines as events.

psutil `Process` objects are kept between samples (the first
`cpu_percent()` of a new object is always 0.0); `io_counters` is absent on macOS.
"""

from __future__ import annotations

import psutil

from houston.engine.active import ActiveMissions
from houston.engine.emitter import Emitter
from houston.engine.mission_run import MissionRun, Running, TaskRun
from houston.engine.pool import Pool
from houston.home import attemptfiles
from houston.runners.processes import snapshot_tree

_LOG_LINES_PER_EVENT = 200
_LOG_BYTES_PER_TICK = 64 * 1024


class Sampler:
    def __init__(self, pool: Pool, active: ActiveMissions, emitter: Emitter) -> None:
        self.pool = pool
        self.active = active
        self.emit = emitter.emit

    def sample(self) -> None:
        for m in self.active.runs.values():
            for t in m.running_tasks():
                if t.running is not None and not t.running.queued:
                    self.sample_attempt(m, t, t.running)
                    self.tail_logs(m, t, t.running)

    def sample_attempt(self, m: MissionRun, t: TaskRun, run: Running) -> None:
        if run.agent is None and t.runner == "command":
            run.agent = attemptfiles.read_agent(run.path)
        root = run.agent.pid if run.agent else None
        worker = self.pool.workers.get(run.slot)
        # The network worker runs many attempts: it is no one attempt's process.
        root = root or (worker.pid if worker and not worker.io else None)
        if root is None:
            return
        for proc in snapshot_tree(root):
            run.procs.setdefault(proc.pid, proc)
        cpu = rss = read = write = 0.0
        for pid, proc in list(run.procs.items()):
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent()
                    rss += proc.memory_info().rss
                    io = proc.io_counters() if hasattr(proc, "io_counters") else None
                    if io is not None:
                        read, write = read + io.read_bytes, write + io.write_bytes
            except psutil.Error:
                del run.procs[pid]
        self.emit(
            "resource",
            m.id,
            t.id,
            run.number,
            {
                "cpu": round(cpu, 1),
                "rss": int(rss),
                "read_bytes": int(read),
                "write_bytes": int(write),
                "pids": len(run.procs),
            },
        )

    def tail_logs(self, m: MissionRun, t: TaskRun, run: Running) -> None:
        for stream in attemptfiles.LOG_STREAMS:
            path = attemptfiles.log_path(run.path, stream)  # a str: runs for every attempt
            offset = run.log_offsets[stream]
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read(_LOG_BYTES_PER_TICK)
            except FileNotFoundError:
                continue
            end = data.rfind(b"\n")
            if end < 0:
                continue
            run.log_offsets[stream] = offset + end + 1
            lines = data[: end + 1].decode(errors="replace").splitlines()
            for start in range(0, len(lines), _LOG_LINES_PER_EVENT):
                self.emit(
                    "attempt.log",
                    m.id,
                    t.id,
                    run.number,
                    {"stream": stream, "lines": lines[start : start + _LOG_LINES_PER_EVENT]},
                )
