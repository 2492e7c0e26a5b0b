"""Trading core: events, instruments, orders, portfolio, ports and the engine. No I/O."""
