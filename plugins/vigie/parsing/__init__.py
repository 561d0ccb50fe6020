"""Pure parsing: bytes in, tables of strings out, then typed values; no Airflow, no warehouse."""
