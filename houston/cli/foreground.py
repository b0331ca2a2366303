"""An engine run in the foreground of `houston run` / `serve` / `recover --finish` /
`retry`: the dashboard beside it, signal handlers, the progress display, OTLP tracing and
what its executor needs around the run."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from houston.cli import render
from houston.core.errors import UsageError
from houston.home.layout import Home

if TYPE_CHECKING:
    from houston.engine.options import Observer


def start_ui(home: Home, host: str, port: int) -> Any:
    """THE call site for the dashboard server (houston.server.launcher.start)."""
    try:
        launcher = importlib.import_module("houston.server.launcher")
    except ImportError:
        return None
    # In a cluster the Service's names are allowed too (deploy/k8s sets this variable).
    allowed = [
        n.strip() for n in os.environ.get("HOUSTON_ALLOWED_HOSTS", "").split(",") if n.strip()
    ]
    handle = launcher.start(home, host=host, port=port, allowed_hosts=allowed)
    render.emit(f"dashboard: {handle.url}")
    return handle


def stop_ui(handle: Any) -> None:
    if handle is not None:
        handle.stop()


def drive(home: Home, options: Any, *, tty: bool, ui: Any = None) -> dict[str, Any]:
    """Run an engine in the foreground with signal handlers and a progress display."""
    from houston.engine.engine import Engine
    from houston.engine.progress import Progress, read_task_states

    _refuse_bad_ceilings()
    # The true total reads task files: for a live line or `houston run`'s missions, never
    # for every mission an unattended `houston serve` works on.
    seed = read_task_states(home) if tty or options.missions else None
    progress = Progress(sys.stderr, tty=tty, workers=options.workers, read_states=seed)
    engine = Engine(home, options, observer=_observer(progress, tty=tty))

    def on_signal(signum: int, frame: Any) -> None:
        first = engine.stop_mode is None
        engine.request_stop(force=not first)
        word = "stopping (again to force)" if first else "forcing stop"
        sys.stderr.write(f"\n{signal.Signals(signum).name}: {word}\n")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    tracing = otel_tracing(home)
    try:
        with _executor_context(options.executor):
            return engine.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        progress.close()
        stop_ui(ui)
        if tracing is not None:
            tracing.stop()


def _refuse_bad_ceilings() -> None:
    """A tenant's budget ceilings: a typo must stop the start, not every mission."""
    from houston.core.budget import ceiling_from

    try:
        ceiling_from(os.environ)
    except ValueError as exc:
        raise UsageError(str(exc), fix="set it to a plain number, or unset it") from None


def _observer(progress: Any, *, tty: bool) -> Observer:
    """The engine's observer: the progress display, plus lines for following and pauses."""
    from houston.engine.envpause import pause_message

    def observe(
        type_: str, mission: str | None, task: str | None, attempt: int | None, data: dict[str, Any]
    ) -> None:
        if type_ == "engine.state" and data.get("state") == "following":
            sys.stderr.write(f"mission {mission} is run by {data.get('by')}: following it\n")
        if type_ in ("engine.state", "worker.state") and (line := pause_message(data)):
            sys.stderr.write(f"\n{line}\n" if tty else f"{line}\n")
            sys.stderr.flush()
        progress(type_, mission, task, attempt, data)

    return observe


def otel_tracing(home: Home) -> Any:
    """Spans of finished missions over OTLP, only when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    from houston import otel

    if not otel.is_configured(os.environ):
        return None
    try:
        return otel.start_if_configured(home)
    except ImportError as exc:
        raise UsageError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed",
            fix="pip install 'houston[otel]', or unset the variable",
        ) from exc


def _executor_context(executor: Any) -> Any:
    """What an executor needs around the engine's run (a local Ray instance, for one)."""
    if executor.name != "ray":
        return contextlib.nullcontext()
    try:
        from houston.engine.ray_worker import cluster_for

        importlib.import_module("ray")
    except ImportError:
        raise UsageError("--executor ray needs Ray", fix="pip install 'houston[ray]'") from None
    return cluster_for(executor.env)
