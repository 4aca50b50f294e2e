"""``python -m qmsflow.cli``: the ``qmsflow`` command, where the script is not on PATH."""

from qmsflow.cli import main

main()
