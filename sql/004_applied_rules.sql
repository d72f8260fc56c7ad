-- walpipe schema, version 4: the rules each source applies, for
-- `walpipe plan` (what a reload with another file would change).
--
-- Run by walpipe after 003 (see 001), or by hand:
--   psql -v schema=walpipe -f sql/004_applied_rules.sql

-- One row per rule of the running configuration (a mapping, or a table a
-- mirror takes), replaced as a whole at the start of each session of
-- `walpipe run`: rule is map_rule_describe's text of it, which
-- `walpipe plan` compares with the new file's.
CREATE TABLE IF NOT EXISTS :"schema".applied_rules (
  source       text NOT NULL,
  source_table text NOT NULL,            -- schema.table, as in dead_letters
  target       text NOT NULL,            -- schema.table, '' for mode none
  origin       text NOT NULL CHECK (origin IN ('mapping', 'mirror')),
  rule         text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (source, source_table, target)
);
