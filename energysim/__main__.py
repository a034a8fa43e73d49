"""``python -m energysim``: the same command line as the ``energysim`` script."""

from energysim.cli import main_entry

main_entry()
