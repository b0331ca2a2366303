"""Agents: the catalog that finds an agent definition (a package's `agents/*.md`, a local
override, a bundled one) and parses it (catalog), and the check of a mission's agents at
submit time (check)."""
