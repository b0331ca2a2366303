"""The local HTTP server: dashboard, SSE event feed, JSON API and metrics (DESIGN §6).

Start it with `houston.server.launcher.start(home)`; it reads the store and the event
log and changes missions only through `houston.actions`.
"""
