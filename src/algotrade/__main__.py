"""``python -m algotrade`` runs the CLI."""

from algotrade.cli.entry import main

main()
