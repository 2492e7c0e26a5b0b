"""The bot daemon: bot actors, registry/supervisor, feeds, lifecycle, file command bridge."""
