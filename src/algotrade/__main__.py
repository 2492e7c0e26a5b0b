"""``python -m algotrade`` runs the CLI."""

from algotrade.cli.main import main

main()
