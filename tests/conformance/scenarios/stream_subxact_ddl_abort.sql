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
INSERT INTO test_tab VALUES (1, 'foo'), (2, 'bar');
BEGIN;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(3, 500) s(i);
ALTER TABLE test_tab ADD COLUMN c int;
SAVEPOINT s1;
INSERT INTO test_tab SELECT i, md5(i::text), -i FROM generate_series(501, 1000) s(i);
ALTER TABLE test_tab ADD COLUMN d int;
SAVEPOINT s2;
INSERT INTO test_tab SELECT i, md5(i::text), -i, 2 * i FROM generate_series(1001, 1500) s(i);
ALTER TABLE test_tab ADD COLUMN e int;
SAVEPOINT s3;
INSERT INTO test_tab SELECT i, md5(i::text), -i, 2 * i, -3 * i FROM generate_series(1501, 2000) s(i);
ALTER TABLE test_tab DROP COLUMN c;
ROLLBACK TO s1;
INSERT INTO test_tab SELECT i, md5(i::text), i FROM generate_series(501, 1000) s(i);
COMMIT;
-- @expect
-- expect test_tab_cmp: SELECT a, b, c FROM test_tab
