-- walpipe schema, version 3: the checkpoint names the source cluster;
-- staging partitions are safe under concurrent walpipes; dead letters
-- hold any change.
--
-- Run by walpipe after 002 (see 001), or by hand:
--   psql -v schema=walpipe -f sql/003_source_identity.sql

-- system_id (since version 1, now written) and timeline: the source cluster
-- and its timeline the checkpoint's position belongs to.  A WAL position
-- means nothing in another cluster, nor past the point where the source's
-- history left the recorded timeline (a restore, a promoted standby that
-- had not received everything): walpipe refuses to start there instead of
-- skipping changes below its checkpoint.
ALTER TABLE :"schema".checkpoints ADD COLUMN IF NOT EXISTS timeline int;

-- Staging partitions, safe under any number of concurrent callers (one
-- walpipe per source, all started together at boot, sharing one staging
-- table) and a concurrent DBA: callers for one parent take turns (an
-- advisory lock for the transaction, keyed by the parent), a partition
-- someone else created meanwhile is not an error, and neither is one
-- someone else dropped.  Version 1's function checked and then created,
-- and two walpipes starting at once failed with "already exists".
CREATE OR REPLACE FUNCTION :"schema".ensure_partitions(
  parent regclass, unit text, premake int, retention interval DEFAULT NULL)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  step interval := ('1 ' || unit)::interval;
  start timestamptz := pg_catalog.date_trunc(unit, pg_catalog.now());
  nsp text;
  rel text;
  made int := 0;
  part record;
  bound timestamptz;
BEGIN
  IF unit NOT IN ('day', 'week', 'month') THEN
    RAISE EXCEPTION 'invalid partition unit "%": expected day, week or month', unit;
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock(7483922, parent::oid::int);
  SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = parent;
  FOR i IN 0..premake LOOP
    IF NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class c ON c.oid = h.inhrelid
       WHERE h.inhparent = parent
         AND c.relname = rel || '_p' || pg_catalog.to_char(start + i * step, 'YYYYMMDD')) THEN
      BEGIN
        EXECUTE pg_catalog.format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
          nsp, rel || '_p' || pg_catalog.to_char(start + i * step, 'YYYYMMDD'), parent,
          start + i * step, start + (i + 1) * step);
        made := made + 1;
      EXCEPTION WHEN duplicate_table OR unique_violation THEN
        NULL; -- created by someone else since the check
      END;
    END IF;
  END LOOP;
  IF retention IS NOT NULL THEN
    FOR part IN
      SELECT c.oid::regclass AS child, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS b
        FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class c ON c.oid = h.inhrelid
       WHERE h.inhparent = parent
    LOOP
      CONTINUE WHEN part.b = 'DEFAULT';
      bound := substring(part.b FROM 'TO \(''([^'']+)''\)')::timestamptz;
      IF bound <= pg_catalog.now() - retention THEN
        EXECUTE pg_catalog.format('DROP TABLE IF EXISTS %s', part.child);
      END IF;
    END LOOP;
  END IF;
  RETURN made;
END
$fn$;

-- Dead letters hold any change: one whose payload jsonb cannot take (a
-- \u0000, a string over jsonb's size limit) keeps it as text, and a
-- staging row's dead letter keeps its commit time (the staging table's
-- partition key) for `walpipe dlq retry`.
ALTER TABLE :"schema".dead_letters ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE :"schema".dead_letters ADD COLUMN IF NOT EXISTS payload_text text;
ALTER TABLE :"schema".dead_letters ADD COLUMN IF NOT EXISTS commit_time timestamptz;

CREATE OR REPLACE FUNCTION :"schema".jsonb_or_null(t text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  RETURN t::jsonb;
EXCEPTION WHEN OTHERS THEN
  RETURN NULL;
END
$fn$;

INSERT INTO :"schema".schema_version (version) VALUES (3) ON CONFLICT DO NOTHING;
