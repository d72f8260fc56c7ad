-- from: postgres src/test/subscription/t/001_rep_changes.pl
-- what: tables without a key (insert-only, REPLICA IDENTITY NOTHING, a plain non-unique index) as append targets
-- tables: tab_ins, tab_nothing, tab_no_replidentity_index
-- @source
-- The original publishes tab_ins for inserts only.  walpipe has no such
-- switch, but a table without a key streams just that: wal2json drops the
-- updates and deletes of a table with neither a key nor REPLICA IDENTITY
-- FULL (with a server warning), so the append target holds every row ever
-- inserted.
CREATE TABLE tab_ins (a int);
CREATE TABLE tab_nothing (a int);
ALTER TABLE tab_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE tab_no_replidentity_index (c1 int);
CREATE INDEX idx_no_replidentity_index ON tab_no_replidentity_index (c1);
-- The rows as inserted, kept aside for the expect query (not streamed).
CREATE TABLE tab_ins_inserted (a int);
-- @dml
INSERT INTO tab_ins SELECT generate_series(1, 1002);
INSERT INTO tab_ins SELECT generate_series(1, 50);
INSERT INTO tab_ins_inserted SELECT * FROM tab_ins;
DELETE FROM tab_ins WHERE a > 20;
UPDATE tab_ins SET a = -a;
INSERT INTO tab_nothing VALUES (generate_series(1, 20));
INSERT INTO tab_no_replidentity_index VALUES (1);
-- @expect
-- expect tab_ins: SELECT * FROM tab_ins_inserted
