"""Built-in strategies and the loader for user strategy files."""
