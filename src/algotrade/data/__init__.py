"""Market data: loading, validation, synthetic generation, storage."""
