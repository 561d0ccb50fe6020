"""The warehouse itself: the connection and its transactions (DuckDB or PostgreSQL), running
dbt in-process, and choosing what a build must rebuild after a week of files."""
