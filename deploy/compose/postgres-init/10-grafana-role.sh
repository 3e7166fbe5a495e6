#!/bin/sh
# Runs once, when the postgres container initializes an empty data directory:
# a read-only role for Grafana. tokentail (the owner) creates its tables and
# daily partitions later; default privileges grant SELECT on each as it appears.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v grafana_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana LOGIN PASSWORD :'grafana_password';
GRANT CONNECT ON DATABASE ai TO grafana;
GRANT USAGE ON SCHEMA public TO grafana;
ALTER DEFAULT PRIVILEGES FOR ROLE tokentail IN SCHEMA public GRANT SELECT ON TABLES TO grafana;
SQL
