"""``algotrade tui``: a Textual client of the daemon's API (helper "tui")."""
