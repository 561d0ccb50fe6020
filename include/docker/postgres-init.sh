#!/bin/bash
# Creates the warehouse database and its owner beside Airflow's metadata database, and the
# analysts' group role (read-only on marts, granted by every dbt build): the owner may not
# create roles.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE vigie LOGIN PASSWORD '${VIGIE_WAREHOUSE_PASSWORD}';
CREATE DATABASE vigie OWNER vigie;
CREATE ROLE vigie_analyst NOLOGIN;
SQL
