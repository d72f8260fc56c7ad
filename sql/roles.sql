-- roles.sql: the roles walpipe needs.  Run as a superuser; change the
-- passwords (or use other authentication) before production.
--
--   On the SOURCE database (psql -v db=shop -f sql/roles.sql ... section 1)
--   On the ANALYTICS database (section 2)
-- Each section is guarded by the database it is run in: run the whole file
-- on both; it creates only what belongs there (psql variable "side" must be
-- "source" or "analytics"):
--   psql -d shop      -v side=source    -f sql/roles.sql
--   psql -d analytics -v side=analytics -f sql/roles.sql

\if :{?side}
\else
\echo 'set -v side=source or -v side=analytics'
\quit
\endif

SELECT :'side' = 'source' AS is_source \gset

\if :is_source
-- 1. Source: a replication role that can read the streamed tables (the
--    slot's consistent view and `walpipe check --live` read the catalog).
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'walpipe_repl') THEN
    CREATE ROLE walpipe_repl LOGIN REPLICATION;
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO walpipe_repl;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO walpipe_repl;
-- wal2json needs REPLICA IDENTITY to decode updates and deletes: every
-- streamed table must have a primary key or REPLICA IDENTITY USING INDEX.
\else
-- 2. Analytics: the role walpipe writes with.  It owns walpipe's schema
--    (created on first start) and writes the fact and staging tables.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'walpipe') THEN
    CREATE ROLE walpipe LOGIN;
  END IF;
END $$;
SELECT format('GRANT CREATE ON DATABASE %I TO walpipe', current_database()) \gexec
-- For each fact schema, e.g.:
--   GRANT USAGE ON SCHEMA analytics TO walpipe;
--   GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA analytics TO walpipe;
\endif
