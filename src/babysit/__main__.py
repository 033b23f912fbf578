"""``python -m babysit`` runs the command line."""

from babysit.cli import main

main()
