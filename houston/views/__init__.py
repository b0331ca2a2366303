"""The read side shared by the CLI, the HTTP server and the OpenTelemetry export.

Nothing here writes. Modules: `tasks` (task rows and a mission's list row), `mission`
(the one mission detail behind `houston show` and GET /api/missions/{id}), `attempts`
(every attempt with its times and spend), `logs` (tail, follow, the whole mission's log),
`events` (a mission's events out of the global log), `explain` (why a mission ended, in
words), `costs` (spend by mission, agent, package or model), `produced` (outputs/ and
the blackboard), `metrics` (the Prometheus figures from the event log). They import nothing of
houston.cli, houston.server or houston.engine: only lower layers (core, home, pkg, the
mission spec) and each other.
"""
