"""The ``qbank`` command line (thin adapters over ``qbank.services``)."""

from qbank.cli.main import cli, main

__all__ = ["cli", "main"]
