"""The local HTTP server: dashboard, SSE event feed, JSON API and metrics (docs/telemetry.md).

Start it with `houston.server.launcher.start(home)`; it reads the store and the event
log and changes missions only through `houston.actions`.
"""
