-- roles.sql: the roles walpipe needs, with no more than it needs.  Run as a
-- superuser (or a role with CREATEROLE and the grants' objects), once on
-- each side; change the passwords or use other authentication (a password
-- file: the unit's PGPASSFILE=/etc/walpipe/pgpass).
--
--   psql -d shop -v side=source -v tables=public.users,public.orders \
--        [-v publication=walpipe_shop] -f sql/roles.sql
--   psql -d analytics -v side=analytics [-v schema=walpipe] \
--        [-v staging=staging] -f sql/roles.sql
--
-- tables: the source tables walpipe streams (source.tables), in SQL's
-- notation (public."User"), separated by commas (a name with a comma in it
-- needs its own GRANT by hand).
--
-- source.plugin: pgoutput streams what a publication holds, and a role
-- may create one FOR TABLE only as the owner of every table (FOR TABLES
-- IN SCHEMA, for mirrors, and FOR ALL TABLES only as a superuser), which
-- walpipe_repl is not: add -v publication=walpipe_NAME (source.publication,
-- default walpipe_ plus source.name) and this script creates it
-- FOR TABLE the tables, as you.  walpipe checks it at each start, and when
-- it lacks a table says the ALTER PUBLICATION to run, and as whom.  For
-- mirrors, create it yourself as a superuser:
--   CREATE PUBLICATION walpipe_NAME FOR TABLES IN SCHEMA app, TABLE public.t;

\if :{?side}
\else
\echo 'set -v side=source or -v side=analytics'
\quit
\endif

SELECT :'side' = 'source' AS is_source \gset

\if :is_source
\if :{?tables}
\else
\echo 'set -v tables=schema.table,... (the tables walpipe streams)'
\quit
\endif
-- 1. Source: a replication role that reads the streamed tables and the
--    catalog (the initial snapshot, `walpipe check --live`), nothing else.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'walpipe_repl') THEN
    CREATE ROLE walpipe_repl LOGIN REPLICATION;
  END IF;
END $$;
SELECT pg_catalog.format('GRANT USAGE ON SCHEMA %I TO walpipe_repl', n.nspname)
  FROM (SELECT DISTINCT c.relnamespace
          FROM pg_catalog.unnest(pg_catalog.string_to_array(:'tables', ',')) t
          JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.btrim(t)::regclass) x
  JOIN pg_catalog.pg_namespace n ON n.oid = x.relnamespace \gexec
SELECT pg_catalog.format('GRANT SELECT ON TABLE %s TO walpipe_repl',
                         pg_catalog.btrim(t)::regclass)
  FROM pg_catalog.unnest(pg_catalog.string_to_array(:'tables', ',')) t \gexec
-- Read-only statistics: an online backfill looks for transactions waiting
-- for a synchronous standby (their commit may have reached the stream
-- before it is visible), which pg_stat_activity shows other roles only
-- with this role (docs/snapshots.md).
GRANT pg_read_all_stats TO walpipe_repl;
-- wal2json needs a replica identity to decode updates and deletes: every
-- streamed table needs a primary key or REPLICA IDENTITY USING INDEX (or
-- FULL, for mode: keyless).
\if :{?publication}
SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_publication
                    WHERE pubname = :'publication') AS create_publication \gset
\if :create_publication
SELECT pg_catalog.format('CREATE PUBLICATION %I FOR TABLE %s', :'publication',
         pg_catalog.string_agg(pg_catalog.btrim(t)::regclass::text, ', '))
  FROM pg_catalog.unnest(pg_catalog.string_to_array(:'tables', ',')) t \gexec
\endif
\endif
\else
\if :{?schema}
\else
\set schema walpipe
\endif
\if :{?staging}
\else
\set staging staging
\endif
-- 2. Analytics: the role walpipe writes with.  It owns walpipe's schema
--    (target.schema) and the staging schema, created here, so it needs no
--    CREATE on the database; walpipe creates its tables in them on first
--    start.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'walpipe') THEN
    CREATE ROLE walpipe LOGIN;
  END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS :"schema" AUTHORIZATION walpipe;
CREATE SCHEMA IF NOT EXISTS :"staging" AUTHORIZATION walpipe;
-- For each fact schema, e.g.:
--   GRANT USAGE ON SCHEMA analytics TO walpipe;
--   GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA analytics TO walpipe;
--   GRANT USAGE ON ALL SEQUENCES IN SCHEMA analytics TO walpipe;
-- (SELECT: upserts and key moves read the target; TRUNCATE: on_truncate.)
\endif
