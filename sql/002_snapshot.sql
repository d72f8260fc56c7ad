-- walpipe schema, version 2: the initial snapshot and backfills.
--
-- Run by walpipe after 001 (see there), or by hand:
--   psql -v schema=walpipe -f sql/002_snapshot.sql

-- One row per source table copied by a snapshot: the initial copy of a new
-- source, its resumption after a crash, or `walpipe snapshot --table`.
-- snapshot_lsn is the consistent point of the exported snapshot the rows
-- were read in: the copy holds exactly the source transactions that end at
-- or before it.  A table is 'done' only in the analytics transaction that
-- also holds all its rows, so a half-copied table is never 'done' and is
-- copied again.  rows_copied and state 'copying' are progress, written
-- outside that transaction so `walpipe status` can see them.
CREATE TABLE IF NOT EXISTS :"schema".snapshot_tables (
  source         text NOT NULL,
  source_table   text NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('initial', 'resume', 'backfill')),
  state          text NOT NULL CHECK (state IN ('pending', 'copying', 'done')),
  snapshot_lsn   pg_lsn,
  rows_copied    bigint NOT NULL DEFAULT 0,
  rows_estimated bigint,
  started_at     timestamptz,
  finished_at    timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, source_table)
);

INSERT INTO :"schema".schema_version (version) VALUES (2) ON CONFLICT DO NOTHING;
