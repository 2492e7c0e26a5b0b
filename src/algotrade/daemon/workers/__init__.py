"""Bot worker processes (``daemon.bot_workers``): see ``pool``."""
