"""The engine: claims missions, drives their tasks on an N+1 worker pool, recovers crashes.

Modules by noun (the DAG, task states and the retry decision are in `houston.core`):
`budget` (pure arithmetic),
`liveness` (process identity), `claims` (mkdir task locks), `taskfiles` (the task files on
disk), `mission_run` (one mission's tasks in memory), `pool` (warm workers), `worker` (the
worker process), `inbox` (its pipes), `attempts`, `pipelining` and `sampling` (an
attempt's life, quick tasks queued in workers, telemetry: mixins of the engine),
`recovery` (the crash sweep), `watch` (filesystem wake-ups), `blackboard`, `engine` (the
loop), `progress` (terminal display), `logview` (`houston logs`).
See docs/engine.md.
"""
