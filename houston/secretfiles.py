"""Settings that may come from a mounted file: `NAME_FILE` beside `NAME`.

In a container, secrets are mounted files (a Kubernetes Secret volume), never plain
environment values in a manifest. For a setting `NAME` (e.g. `HOUSTON_TOKEN`,
`HOUSTON_LLM_API_KEY`) Houston reads `NAME` if it is set, else the file that `NAME_FILE`
names, stripped of surrounding whitespace (`kubectl create secret --from-file` keeps a
trailing newline).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from houston.core.errors import HoustonError, UsageError

EXIT_ENVIRONMENT = 3


class SecretFileUnreadable(HoustonError):
    """The file exists but cannot be read (permissions, I/O): the environment failed."""

    exit_code = EXIT_ENVIRONMENT


def setting(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """`NAME`, else the contents of the file `NAME_FILE` names, else None."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value:
        return value
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    return read_secret_file(path, f"{name}_FILE")


def read_secret_file(path: str, variable: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        raise UsageError(
            f"{variable} names {path}, which does not exist",
            fix=f"mount the secret at {path}, or unset {variable}",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileUnreadable(
            f"cannot read {variable} file {path}: {exc}",
            fix="make it readable by Houston's user (in Kubernetes: the Secret's defaultMode "
            "and the pod's fsGroup)",
        ) from exc
