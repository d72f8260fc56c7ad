-- The staging table: every change walpipe receives, one JSONB row each,
-- partitioned by commit time (day, week or month; walpipe makes the
-- partitions ahead with ensure_partitions and keeps a default one).
--
-- walpipe runs this itself on every start, after its schema scripts, with
-- :"staging_schema" and :"staging_table" replaced by staging.table's two
-- parts (quoted) and :"staging_default" by its default partition's name
-- (TABLE_default).  The schema exists by then (walpipe creates it when
-- missing).  By hand:
--   psql -v staging_schema=staging -v staging_table=raw_events \
--        -v staging_default=raw_events_default -f sql/staging.sql
CREATE TABLE IF NOT EXISTS :"staging_schema".:"staging_table" (
  id             bigserial,
  source         text NOT NULL,
  source_schema  text NOT NULL,
  source_table   text NOT NULL,
  op             "char" NOT NULL,
  lsn            pg_lsn NOT NULL,
  xid            bigint,
  commit_time    timestamptz NOT NULL,
  payload        jsonb NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, commit_time)
) PARTITION BY RANGE (commit_time);

CREATE TABLE IF NOT EXISTS :"staging_schema".:"staging_default"
  PARTITION OF :"staging_schema".:"staging_table" DEFAULT;
