"""The `bronze-sync` command line (also `python -m bronze_sync`)."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from bronze_sync.cli.verbosity import is_verbose, set_verbose
from bronze_sync.config.profiles import PROFILE_ENV
from bronze_sync.errors import BronzeSyncError, ConfigError

F = TypeVar("F", bound=Callable[..., Any])
# Piped output (CI logs, files) gets a wide page instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)


def config_option(func: F) -> F:
    """Add the --config and --profile options every command takes."""
    with_profile = click.option(
        "--profile",
        default=None,
        expose_value=False,
        callback=_export_profile,
        help=f"Profile of the file's profiles: to apply (default: ${PROFILE_ENV}, else none).",
    )(func)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Configuration file (default: $BRONZE_SYNC_CONFIG, else the bundled demo config).",
    )(with_profile)


def _export_profile(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # Exported, not passed along: step processes and the code location a command's runs
    # load read the same profile from the environment, as they read $BRONZE_SYNC_CONFIG.
    if value is not None:
        os.environ[PROFILE_ENV] = value


def tables_option(func: F) -> F:
    """Add the --tables option (comma-separated bronze table names)."""
    return click.option(
        "--tables", default=None, help="Comma-separated tables (default: every enabled table)."
    )(func)


def split_tables(value: str | None) -> list[str] | None:
    """Return the table names of a --tables value."""
    if not value:
        return None
    return [t.strip() for t in value.split(",") if t.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bronze_sync")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show Dagster's INFO logs and the Python tracebacks of failures.",
)
def cli(verbose: bool) -> None:
    """Keep a Delta Lake bronze layer in step with its sources, and keep everything."""
    set_verbose(verbose)


# Each module registers its commands on `cli` when imported; a feature adds its own module.
COMMAND_MODULES = [
    "bronze_sync.cli.commands",
    "bronze_sync.cli.demo",
    "bronze_sync.cli.bench",
    "bronze_sync.cli.purge",
    "bronze_sync.cli.checkpoints",
    "bronze_sync.cli.rollback",
    "bronze_sync.cli.maintenance",
    "bronze_sync.cli.validate",
    "bronze_sync.cli.audit",
    "bronze_sync.cli.pii",
    "bronze_sync.cli.rules",
    "bronze_sync.cli.history",
    "bronze_sync.cli.changes",
    "bronze_sync.cli.ui",
    "bronze_sync.cli.serve",
]


def main(argv: list[str] | None = None) -> None:
    """Run the command line; exit 0 on success, 1 when work failed, 2 on bad usage/config."""
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module)
    from bronze_sync.cli.alert_panel import show_alerts_as_panels

    show_alerts_as_panels(err_console)
    set_verbose(False)
    try:
        cli.main(args=argv, prog_name="bronze-sync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except BronzeSyncError as exc:
        label = "configuration error" if isinstance(exc, ConfigError) else "error"
        _print_failure(label, str(exc))
        sys.exit(exc.exit_code)
    except Exception as exc:
        _print_failure("unexpected error", f"{type(exc).__name__}: {exc}")
        sys.exit(1)
    sys.exit(0)


def _print_failure(label: str, message: str) -> None:
    """Print a failure as one line per problem, plus its traceback with -v."""
    if is_verbose():
        sys.stderr.write(traceback.format_exc())
    lines = message.strip().splitlines() or [""]
    err_console.print(Text.assemble((f"{label}:", "red"), f" {lines[0]}"), soft_wrap=True)
    for line in lines[1:]:
        err_console.print(Text(f"  {line.strip()}"), soft_wrap=True)
    if not is_verbose() and label == "unexpected error":
        err_console.print("(run with -v for the traceback)")


def run() -> None:
    """Run the command line as a program (the `bronze-sync` script and `python -m`)."""
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    # Native thread pools (Arrow, Delta, Dagster's subprocess watchers) can abort the
    # interpreter's teardown ("terminate called without an active exception") after all
    # work is committed; the exit code must report the work, not the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
