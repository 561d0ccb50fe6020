#!/bin/bash
# Creates the warehouse database and its owner beside Airflow's metadata database.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE vigie LOGIN PASSWORD '${VIGIE_WAREHOUSE_PASSWORD}';
CREATE DATABASE vigie OWNER vigie;
SQL
