"""The engine: claims missions, drives their tasks on an N+1 worker pool, recovers crashes.

Modules by noun: `scheduler` (pure DAG/ready-set logic), `budget` (pure arithmetic),
`liveness` (process identity), `claims` (mkdir task locks), `pool` (warm workers),
`worker` (the worker process), `recovery` (the crash sweep), `watch` (filesystem
wake-ups), `blackboard`, `taskfiles` (task files on disk), `mission_run` (one mission's
state in memory), `engine` (the loop), `progress` (terminal display).
"""
