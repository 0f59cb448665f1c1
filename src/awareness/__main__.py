"""``python -m awareness`` runs the command line."""

from awareness.cli import main

main()
