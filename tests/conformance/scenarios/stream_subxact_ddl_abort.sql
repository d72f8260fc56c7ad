-- from: postgres src/test/subscription/t/019_stream_subxact_ddl_abort.pl
-- what: columns added inside savepoints of a large transaction, some rolled back with the rows that used them; the mapping reads one of them
-- tables: test_tab
-- compare: test_tab_cmp
-- @source
CREATE TABLE test_tab (a int PRIMARY KEY, b varchar);
-- @analytics
CREATE TABLE test_tab (a int PRIMARY KEY, b text, c int, d int, e int);
CREATE VIEW test_tab_cmp AS SELECT a, b, c FROM test_tab;
-- @mapping
  - { from: public.test_tab, to: public.test_tab, key: [a], columns: { a: a, b: b, c: c } }
-- @dml
INSERT INTO test_tab VALUES (1, 'one'), (2, 'two');
BEGIN;
INSERT INTO test_tab SELECT i, 'b' || i FROM generate_series(3, 400) s(i);
ALTER TABLE test_tab ADD COLUMN c int;
SAVEPOINT s1;
INSERT INTO test_tab SELECT i, 'b' || i, i % 17 FROM generate_series(401, 800) s(i);
ALTER TABLE test_tab ADD COLUMN d int;
SAVEPOINT s2;
INSERT INTO test_tab SELECT i, 'b' || i, i % 17, i * 3 FROM generate_series(801, 1200) s(i);
ALTER TABLE test_tab ADD COLUMN e int;
SAVEPOINT s3;
INSERT INTO test_tab SELECT i, 'b' || i, i % 17, i * 3, -i FROM generate_series(1201, 1600) s(i);
ALTER TABLE test_tab DROP COLUMN c;
ROLLBACK TO s1;
-- Only these rows have c: the rows of s1 and later were rolled back.
INSERT INTO test_tab SELECT i, 'again ' || i, -i FROM generate_series(401, 800) s(i);
COMMIT;
-- @expect
-- expect test_tab_cmp: SELECT a, b, c FROM test_tab
