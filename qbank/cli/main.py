"""The ``qbank`` command line: parse, call a service, print.

Every failure the user can cause ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from qbank.errors import QBankError

__all__ = ["cli", "main"]


def _fail(message: str) -> None:
    click.echo(f"qbank: error: {message}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qbank")
def cli() -> None:
    """QBank: question bank with computerized adaptive testing."""


def _register_commands() -> None:
    from qbank.cli import calibrate, irt, serve, store

    cli.add_command(calibrate.calibrate_sh_command)
    cli.add_command(irt.calibrate_irt_command)
    for command in [*store.COMMANDS, *serve.COMMANDS]:
        cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``qbank`` console script."""
    from sqlalchemy.exc import OperationalError

    _register_commands()
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
    except OperationalError as error:
        _fail(f"cannot reach the database: {str(error.orig).strip().splitlines()[0]}")
