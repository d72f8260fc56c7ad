-- walpipe schema, version 5: online backfills (docs/snapshots.md).
--
-- Run by walpipe after 004 (see 001), or by hand:
--   psql -v schema=walpipe -f sql/005_backfills.sql

-- One row per rule whose target walpipe run brings to the rule's present
-- form while it streams: a mapping added or changed (registered at the
-- start of the session that first applies it) or asked for with
-- `walpipe snapshot --table`.  It is copied in chunks ordered by the
-- source table's key; each chunk commits in the analytics transaction
-- that also holds its rows and the checkpoint, updating last_key, so a
-- crash resumes after the last chunk that committed.
CREATE TABLE IF NOT EXISTS :"schema".backfills (
  source         text NOT NULL,
  source_table   text NOT NULL,            -- schema.table, as in applied_rules
  target         text NOT NULL,            -- schema.table
  reason         text NOT NULL CHECK (reason IN ('added', 'changed', 'requested')),
  state          text NOT NULL CHECK (state IN ('pending', 'copying', 'done', 'refused')),
  rule           text NOT NULL,            -- the rule it brings rows to
  last_key       text[],                   -- source key of the last row copied
  chunks         bigint NOT NULL DEFAULT 0,
  rows_copied    bigint NOT NULL DEFAULT 0,
  rows_removed   bigint NOT NULL DEFAULT 0, -- target rows no longer matching
  rows_estimated bigint,
  sweeps         boolean,                  -- whether rows no longer matching go
  note           text,                     -- why not (refused, no sweep)
  requested_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
  started_at     timestamptz,
  finished_at    timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (source, source_table, target)
);

INSERT INTO :"schema".schema_version (version) VALUES (5) ON CONFLICT DO NOTHING;
