"""``python -m qbank.cli``."""

from qbank.cli.main import main

main()
