"""Entry point of `houston`: lazy subcommands, one config object, errors mapped in one place.

Subcommands are imported only when called so that `houston --version` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import click

from houston import __version__
from houston.core.errors import EXIT_BAD_INPUT, HoustonError, from_os_error

# name -> ("module:attribute", short help shown by `houston --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("houston.cli.missions:init", "Create the home folder (.houston)."),
    "submit": ("houston.cli.missions:submit", "Validate a mission file and submit it."),
    "ls": ("houston.cli.missions:ls", "List missions, newest first."),
    "show": ("houston.cli.missions:show", "Show one mission, its tasks and its spend."),
    "approve": (
        "houston.cli.missions:approve",
        "Approve a gated mission in PLANNING, or a task waiting at its gate.",
    ),
    "reject": (
        "houston.cli.missions:reject",
        "Reject a mission in PLANNING, or a task waiting at its gate.",
    ),
    "cancel": ("houston.cli.missions:cancel", "Cancel a mission that has not finished."),
    "schema": ("houston.cli.schema:schema", "Print the JSON Schema of mission or package files."),
    "run": ("houston.cli.engine:run", "Submit a mission and run it in the foreground."),
    "serve": ("houston.cli.engine:serve", "Run every committed mission until stopped."),
    "recover": ("houston.cli.engine:recover", "Run one crash-recovery sweep and report it."),
    "retry": ("houston.cli.engine:retry", "Run a finished mission's failed tasks again."),
    "logs": ("houston.cli.engine:logs", "Print a mission's or a task's logs."),
    "events": ("houston.cli.telemetry:events", "Print the event log."),
    "costs": ("houston.cli.costs:costs", "Spend by mission, agent, package or model."),
    "gc": ("houston.cli.telemetry:gc", "Prune old missions and events."),
    "package": ("houston.cli.package:package", "Build, install and inspect packages."),
    "bundle": ("houston.cli.bundle:bundle", "Carry packages and wheels to a machine offline."),
    "tenants": (
        "houston.cli.tenants:tenants",
        "Render deploy/k8s's per-team overlays from teams.yaml.",
    ),
    "doctor": ("houston.cli.doctor:doctor", "Check this machine and home for problems."),
}


@dataclass(frozen=True)
class Config:
    """Built once per invocation from the global options."""

    home_option: str | None

    @property
    def home(self) -> Any:
        from houston.home.layout import Home

        return Home.locate(self.home_option)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="houston")
@click.option(
    "--home",
    envvar="HOUSTON_HOME",
    metavar="DIR",
    help="State folder [env HOUSTON_HOME; default ./.houston].",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Houston: a local-first control plane for AI-agent missions."""
    ctx.obj = Config(home_option=home)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to its exit code without a traceback."""
    try:
        # Not standalone: click returns what a command returned, or ctx.exit()'s code.
        code = cli.main(args=argv, prog_name="houston", standalone_mode=False)
    except HoustonError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        # Disk full, permission denied, read-only: the machine's fault, said plainly (exit
        # 3); a name too long: bad input (exit 2). Any other OSError is a defect of ours
        # and keeps its traceback.
        error = from_os_error(exc)
        if error is None:
            raise
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else EXIT_BAD_INPUT)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)
