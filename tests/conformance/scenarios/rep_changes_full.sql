-- from: postgres src/test/subscription/t/001_rep_changes.pl
-- what: REPLICA IDENTITY FULL without a key, with duplicate rows: an append target records each change with its old row
-- tables: tab_full, tab_full2
-- @source
-- The original's subscriber updates one row equal to the old row for each
-- change; mode keyless does that too (keyless_full).  Here the same
-- changes go to append targets: every insert and every update as a row,
-- with the identity (old row) the change carried.
CREATE TABLE tab_full (a int);
ALTER TABLE tab_full REPLICA IDENTITY FULL;
CREATE TABLE tab_full2 (x text);
ALTER TABLE tab_full2 REPLICA IDENTITY FULL;
-- @analytics
CREATE TABLE tab_full (op text, a int);
CREATE TABLE tab_full2 (op text, x text);
-- @mapping
  - from: public.tab_full
    to: public.tab_full
    mode: append
    columns: { op: $op, a: a }
  - from: public.tab_full2
    to: public.tab_full2
    mode: append
    columns: { op: $op, x: x }
-- @dml
INSERT INTO tab_full SELECT generate_series(1, 10);
INSERT INTO tab_full SELECT generate_series(1, 10);
INSERT INTO tab_full2 VALUES ('a'), ('b'), ('b');
UPDATE tab_full SET a = a * a;
UPDATE tab_full2 SET x = 'bb' WHERE x = 'b';
-- @expect
-- expect tab_full: SELECT 'I', g FROM generate_series(1, 10) g, generate_series(1, 2)
  UNION ALL SELECT 'U', g * g FROM generate_series(1, 10) g, generate_series(1, 2)
-- expect tab_full2: VALUES ('I', 'a'), ('I', 'b'), ('I', 'b'), ('U', 'bb'), ('U', 'bb')
