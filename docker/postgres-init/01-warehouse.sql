-- Runs once, when the postgres service starts on an EMPTY data volume: the official image
-- executes /docker-entrypoint-initdb.d/*.sql with psql as POSTGRES_USER, connected to
-- POSTGRES_DB (`airflow`, Airflow's metadata DB). This script adds the warehouse DB,
-- owned by that same user. To add it to an existing volume, run this file with psql.
--
-- The warehouse tables and views are not created here: the compose service
-- `warehouse-migrate` runs `reformstats db upgrade` (warehouse/migrations/) before Airflow
-- starts. See docs/data_dictionary.md.

CREATE DATABASE reformstats
    WITH ENCODING 'UTF8'
         TEMPLATE template0;

COMMENT ON DATABASE reformstats IS
    'reformstats warehouse: TTHC and dossier statistics (docs/data_dictionary.md)';
