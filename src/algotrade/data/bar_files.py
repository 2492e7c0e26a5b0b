"""Which files hold bars: the extensions ``data.loader`` reads.

A module of its own (no polars) so that the daemon and the API can check a file name without
loading the loader.
"""

CSV_EXTENSIONS = (".csv", ".csv.gz")
PARQUET_EXTENSIONS = (".parquet", ".pq")
ACCEPTED_EXTENSIONS = CSV_EXTENSIONS + PARQUET_EXTENSIONS
