"""Houston: a local-first control plane for AI-agent missions."""

__version__ = "0.1.0"
