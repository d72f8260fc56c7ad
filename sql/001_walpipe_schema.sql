-- walpipe schema, version 1: checkpoints, dead letters, partition upkeep.
--
-- walpipe runs this itself on start, inside one transaction under an
-- advisory lock, when :"schema".schema_version says it has not run, with
-- :"schema" replaced by target.schema (quoted).  By hand:
--   psql -v schema=walpipe -f sql/001_walpipe_schema.sql

-- Only when missing: CREATE SCHEMA checks CREATE on the database even
-- with IF NOT EXISTS, and a schema made ahead for walpipe (sql/roles.sql)
-- spares it that privilege.
DO $walpipe$ BEGIN
  IF pg_catalog.to_regnamespace($walpipe_name$:"schema"$walpipe_name$) IS NULL THEN
    EXECUTE $walpipe_name$CREATE SCHEMA :"schema"$walpipe_name$;
  END IF;
END $walpipe$;

CREATE TABLE IF NOT EXISTS :"schema".schema_version (
  version     int PRIMARY KEY,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per source.  lsn is the end (wal2json "nextlsn") of the last
-- source transaction applied completely; the row commits in the same
-- analytics transaction as the data it covers.  A source transaction larger
-- than a batch is applied in pieces: txn_end names it and txn_applied counts
-- its changes already applied, so a restart skips exactly those.
CREATE TABLE IF NOT EXISTS :"schema".checkpoints (
  source       text PRIMARY KEY,
  lsn          pg_lsn NOT NULL,
  txn_end      pg_lsn,
  txn_applied  bigint NOT NULL DEFAULT 0,
  last_commit_time timestamptz,
  system_id    text,
  slot         text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Rows that failed their mapping (a cast, a constraint, a NULL into NOT
-- NULL).  Modelled on the seed's dead_letter_queue; the rest of the batch
-- commits without them.
CREATE TABLE IF NOT EXISTS :"schema".dead_letters (
  id              bigserial PRIMARY KEY,
  source          text NOT NULL,
  source_table    text NOT NULL,
  target_table    text NOT NULL,
  lsn             pg_lsn NOT NULL,
  xid             bigint,
  op              "char" NOT NULL,
  payload         jsonb NOT NULL,
  error           text NOT NULL,
  sqlstate        text,
  attempts        int NOT NULL DEFAULT 1,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at  timestamptz NOT NULL DEFAULT now(),
  resolved        boolean NOT NULL DEFAULT false,
  resolved_at     timestamptz
);
CREATE INDEX IF NOT EXISTS dead_letters_pending
  ON :"schema".dead_letters (source, last_failed_at) WHERE NOT resolved;

-- Materialized view refreshes, for `walpipe status`.
CREATE TABLE IF NOT EXISTS :"schema".refreshes (
  view         text PRIMARY KEY,
  last_ok_at   timestamptz,
  last_error   text,
  last_error_at timestamptz,
  duration_ms  bigint
);

-- Create the range partitions of a table partitioned by a timestamptz, from
-- the one holding now() to premake ahead, and drop those wholly older than
-- retention.  Returns the number created.  Partition names are
-- <table>_pYYYYMMDD (start of the range).
CREATE OR REPLACE FUNCTION :"schema".ensure_partitions(
  parent regclass, unit text, premake int, retention interval DEFAULT NULL)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  step interval := ('1 ' || unit)::interval;
  start timestamptz := date_trunc(unit, now());
  nsp text;
  rel text;
  made int := 0;
  part record;
  bound timestamptz;
BEGIN
  IF unit NOT IN ('day', 'week', 'month') THEN
    RAISE EXCEPTION 'invalid partition unit "%": expected day, week or month', unit;
  END IF;
  SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = parent;
  FOR i IN 0..premake LOOP
    IF NOT EXISTS (
      SELECT 1 FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
       WHERE h.inhparent = parent
         AND c.relname = rel || '_p' || to_char(start + i * step, 'YYYYMMDD')) THEN
      EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
        nsp, rel || '_p' || to_char(start + i * step, 'YYYYMMDD'), parent,
        start + i * step, start + (i + 1) * step);
      made := made + 1;
    END IF;
  END LOOP;
  IF retention IS NOT NULL THEN
    FOR part IN
      SELECT c.oid::regclass AS child, pg_get_expr(c.relpartbound, c.oid) AS b
        FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
       WHERE h.inhparent = parent
    LOOP
      CONTINUE WHEN part.b = 'DEFAULT';
      bound := substring(part.b FROM 'TO \(''([^'']+)''\)')::timestamptz;
      IF bound <= now() - retention THEN
        EXECUTE format('DROP TABLE %s', part.child);
      END IF;
    END LOOP;
  END IF;
  RETURN made;
END
$fn$;

INSERT INTO :"schema".schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;
