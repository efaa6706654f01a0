"""The ``qbank`` command line: parse, call a service, print.

Every failure the user can cause ends as one line on stderr and exit status 2. Commands are
loaded lazily: running one imports its own module only, so ``qbank calibrate-irt`` never pays
for SQLAlchemy, and nothing imports JAX before the compilation cache is pointed at the data
dir (``QBANK_COMPILE_CACHE``).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Sequence

import click

from qbank.errors import ConfigError, QBankError

__all__ = ["cli", "main"]


def _fail(message: str) -> None:
    click.echo(f"qbank: error: {message}", err=True)
    sys.exit(2)


# command name → (module, attribute); the module is imported when the command is used.
_COMMANDS: dict[str, tuple[str, str]] = {
    "calibrate-sh": ("qbank.cli.calibrate", "calibrate_sh_command"),
    "calibrate-irt": ("qbank.cli.irt", "calibrate_irt_command"),
    "simulate": ("qbank.cli.simulate", "simulate_command"),
    "db": ("qbank.cli.store", "db_group"),
    "import": ("qbank.cli.store", "import_command"),
    "seed-demo": ("qbank.cli.store", "seed_demo_command"),
    "runs": ("qbank.cli.store", "runs_group"),
    "worker": ("qbank.cli.store", "worker_command"),
    "serve": ("qbank.cli.serve", "serve_command"),
    "dashboard": ("qbank.cli.serve", "dashboard_command"),
    "demo": ("qbank.cli.serve", "demo_command"),
    "user": ("qbank.cli.serve", "user_group"),
}


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            module, attribute = _COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qbank")
def cli() -> None:
    """QBank: question bank with computerized adaptive testing."""


def _enable_compile_cache() -> None:
    from qbank.settings import Settings, enable_compile_cache

    # A bad setting is reported by the command that needs it, not here.
    with contextlib.suppress(ConfigError):
        enable_compile_cache(Settings.from_env())


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``qbank`` console script."""
    _enable_compile_cache()
    try:
        cli.main(
            args=list(argv) if argv is not None else None, prog_name="qbank", standalone_mode=False
        )
    except QBankError as error:
        _fail(str(error))
    except click.UsageError as error:
        _fail(error.format_message())
    except click.ClickException as error:
        _fail(error.format_message())
    except click.Abort:
        _fail("aborted")
    except Exception as error:
        if not _is_database_unreachable(error):
            raise
        _fail(f"cannot reach the database: {str(error.orig).strip().splitlines()[0]}")  # type: ignore[attr-defined]


def _is_database_unreachable(error: Exception) -> bool:
    if "sqlalchemy" not in sys.modules:  # no command that ran touched a database
        return False
    from sqlalchemy.exc import OperationalError

    return isinstance(error, OperationalError)
