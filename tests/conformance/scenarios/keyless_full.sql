-- from: postgres src/test/subscription/t/001_rep_changes.pl
-- what: REPLICA IDENTITY FULL without a key, with duplicate rows and NULLs: mode keyless changes one row equal to the old row per update or delete, as the apply worker does
-- tables: tab_full, tab_full2
-- @source
-- The original's tab_full and tab_full2: no key, REPLICA IDENTITY FULL,
-- duplicate rows.  Its subscriber finds one row equal to the old row for
-- each update (RelationFindReplTupleSeq, tuples_equal); mode keyless
-- does the same, so the target equals the source, duplicates included.
-- Beyond the original: deletes of one of several duplicates and of all
-- of them, rows holding NULLs (equal to NULL, as tuples_equal), one big
-- transaction, and a TRUNCATE.
CREATE TABLE tab_full (a int);
ALTER TABLE tab_full REPLICA IDENTITY FULL;
CREATE TABLE tab_full2 (x text, n int);
ALTER TABLE tab_full2 REPLICA IDENTITY FULL;
-- @mapping
  - from: public.tab_full
    to: public.tab_full
    mode: keyless
    columns: { a: a }
  - from: public.tab_full2
    to: public.tab_full2
    mode: keyless
    columns: { x: x, n: n }
-- @dml
INSERT INTO tab_full SELECT generate_series(1, 10);
INSERT INTO tab_full SELECT generate_series(1, 10);
INSERT INTO tab_full2 VALUES ('a', NULL), ('b', NULL), ('b', NULL);
UPDATE tab_full SET a = a * a;
UPDATE tab_full2 SET x = 'bb' WHERE x = 'b';
INSERT INTO tab_full VALUES (0);
DELETE FROM tab_full WHERE ctid IN (SELECT ctid FROM tab_full WHERE a = 4 LIMIT 1);
UPDATE tab_full SET a = NULL WHERE ctid IN (SELECT ctid FROM tab_full WHERE a = 9 LIMIT 1);
UPDATE tab_full SET a = -1 WHERE a IS NULL;
DELETE FROM tab_full WHERE a = 16;
INSERT INTO tab_full2 VALUES (NULL, NULL), (NULL, NULL), (NULL, 1);
UPDATE tab_full2 SET n = 2 WHERE ctid IN (SELECT ctid FROM tab_full2 WHERE x IS NULL AND n IS NULL LIMIT 1);
DELETE FROM tab_full2 WHERE ctid IN (SELECT ctid FROM tab_full2 WHERE x = 'bb' LIMIT 1);
BEGIN;
INSERT INTO tab_full SELECT 7 FROM generate_series(1, 3);
UPDATE tab_full SET a = 70 WHERE ctid IN (SELECT ctid FROM tab_full WHERE a = 7 LIMIT 2);
DELETE FROM tab_full WHERE ctid IN (SELECT ctid FROM tab_full WHERE a = 70 LIMIT 1);
COMMIT;
TRUNCATE tab_full2;
INSERT INTO tab_full2 VALUES ('after', 1), ('after', 1);
DELETE FROM tab_full2 WHERE ctid IN (SELECT ctid FROM tab_full2 LIMIT 1);
