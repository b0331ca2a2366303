"""The engine: claims missions, drives their tasks on an N+1 worker pool, recovers crashes.

Modules by noun (the DAG, task states and the retry decision are in `houston.core`).
Pure: `budget` (arithmetic),
`protocol` (the engine <-> worker messages and their encoding). On disk: `liveness`
(process identity), `claims` (mkdir task locks), `taskfiles` (the task files), `gates`,
`blackboard`. The engine process: `engine` (the loop) and its parts, each given its
collaborators: `options`, `control`, `emitter`, `active`, `queues`, `missions` (claim,
load, close), `dispatch`, `attempts` (start, settle), `messages`, `pipelining`,
`stopping`, `recording`, `spending`, `gating`, `iodispatch`, `sampling`, `follow`; over
`mission_run` (one mission's tasks in memory) and `pool` (warm workers). The workers:
`worker`, `io_worker`, `ray_worker` and `inbox` (their pipes). Also `recovery` (the crash
sweep), `watch` (filesystem wake-ups), `progress` (terminal display). See docs/engine.md.
"""
