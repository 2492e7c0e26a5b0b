"""Account risk engine: rules, lockouts, daily reset, enforcement."""
