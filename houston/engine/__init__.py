"""The engine: claims missions, drives their tasks on an N+1 worker pool, recovers crashes.

Modules by noun (the DAG, task states, the requeue decision and budgets are in
`houston.core`; the task files, claims, gates and the blackboard in `houston.home`).
Pure: `protocol` (the engine <-> worker messages and their encoding). `liveness`: process
identity (pid + start token). The engine process: `engine` (the loop) and its parts, each given its
collaborators: `options`, `control`, `emitter`, `active`, `queues`, `missions` (claim,
load, close), `dispatch`, `attempts` (start, settle), `messages`, `pipelining`,
`stopping`, `recording`, `spending`, `gating`, `iodispatch`, `sampling`, `follow`; over
`mission_run` (one mission's tasks in memory) and `pool` (warm workers). The workers:
`worker`, `io_worker`, `ray_worker` and `inbox` (their pipes). Also `recovery` (the crash
sweep), `watch` (filesystem wake-ups), `progress` (terminal display), `logview`
(`houston logs`). See docs/engine.md.
"""
