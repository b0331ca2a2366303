"""The one error base of Houston, and the exit codes the command line maps errors to.

Every error keeps its fields and builds a message that says what went wrong, where,
and what to do about it. The CLI turns any `HoustonError` into its `exit_code` in one
place (`houston.cli.main`), without a traceback.
"""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_MISSION_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3


class HoustonError(Exception):
    """Base of every error Houston raises on purpose."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, what: str, *, where: str = "", fix: str = "") -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.format())

    def format(self) -> str:
        head = f"{self.where}: {self.what}" if self.where else self.what
        return f"{head}\n  hint: {self.fix}" if self.fix else head


class UsageError(HoustonError):
    """The command line was called wrongly."""


class SpecError(HoustonError):
    """A mission.yaml, package.yaml or agent file is malformed.

    `source` is the file name; `line` and `column` are 1-based, 0 when unknown.
    """

    def __init__(
        self, what: str, *, source: str, line: int = 0, column: int = 0, fix: str = ""
    ) -> None:
        self.source = source
        self.line = line
        self.column = column
        where = source
        if line:
            where = f"{source}:{line}:{column}" if column else f"{source}:{line}"
        super().__init__(what, where=where, fix=fix)


class NotFoundError(HoustonError):
    """A mission, task, package or agent that was asked for does not exist."""


class AmbiguousError(HoustonError):
    """An id prefix matched more than one mission."""


class IllegalTransition(HoustonError):
    """A lifecycle move that the transition table does not allow."""


class ConflictError(HoustonError):
    """Someone else changed the state first (a lost race on a rename or a lock)."""


class StoreError(HoustonError):
    """The home folder is unusable: wrong filesystem layout, several devices, no access."""


class PackageError(HoustonError):
    """A package cannot be built, verified, resolved or installed."""


class RunnerError(HoustonError):
    """An agent cannot be started: missing executable, entrypoint or endpoint."""


class MissionFailed(HoustonError):
    """A mission ran and ended failed or cancelled."""

    exit_code = EXIT_MISSION_FAILED


class EnvironmentFault(HoustonError):
    """The machine refused: disk full, permission denied, read-only filesystem.

    Not the user's input and not a mission's failure: the same command works again once
    the environment is fixed, so it has its own exit code.
    """

    exit_code = EXIT_ENVIRONMENT


# errno -> (what went wrong, what to do). Only faults of the machine, never of the input.
_ENVIRONMENT_FAULTS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: (
        "no space left on device",
        "free some space on that filesystem (`df -h`), then run the command again",
    ),
    errno.EDQUOT: (
        "disk quota exceeded",
        "free some space or raise the quota, then run the command again",
    ),
    errno.EROFS: (
        "read-only filesystem",
        "remount it read-write, or point --home/HOUSTON_HOME at a writable folder",
    ),
    errno.EACCES: (
        "permission denied",
        "check the owner and mode of that path (`ls -ld`), or run as its owner",
    ),
    errno.EPERM: (
        "operation not permitted",
        "check the owner, mode and attributes of that path (`ls -ld`, `lsattr`)",
    ),
    errno.EMFILE: (
        "too many open files in this process",
        "raise the limit (`ulimit -n`) or run fewer workers",
    ),
    errno.ENFILE: (
        "too many open files on this machine",
        "close other programs or raise fs.file-max",
    ),
}


def is_environment_fault(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_FAULTS


def environment_fault(exc: OSError) -> EnvironmentFault | None:
    """The EnvironmentFault an OSError stands for (naming its path), or None."""
    known = _ENVIRONMENT_FAULTS.get(exc.errno or 0)
    if known is None:
        return None
    what, fix = known
    where = str(exc.filename) if exc.filename else ""
    if exc.filename2:
        where = f"{where} -> {exc.filename2}"
    return EnvironmentFault(what, where=where, fix=fix)


def from_os_error(exc: OSError) -> HoustonError | None:
    """The HoustonError an OSError stands for: the machine's fault (exit 3), a name too
    long for the filesystem (bad input, exit 2), or None (a defect: keep the traceback)."""
    if exc.errno == errno.ENAMETOOLONG:
        name = str(exc.filename or "")
        shown = name if len(name) <= 100 else f"{name[:60]}...({len(name)} characters)"
        return UsageError(
            "a name is too long for the filesystem (at most 255 bytes per path part)",
            where=shown,
            fix="use a shorter name or id",
        )
    return environment_fault(exc)
