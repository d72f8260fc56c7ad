-- from: postgres src/test/subscription/t/016_stream_subxact.pl
-- what: one transaction of four nested savepoints, each inserting, updating and deleting rows of the levels before it
-- tables: test_tab
-- compare: test_tab_cmp
-- @source
CREATE TABLE test_tab (a int PRIMARY KEY, b varchar);
-- @analytics
CREATE TABLE test_tab (a int PRIMARY KEY, b text, c timestamptz DEFAULT now(), d bigint DEFAULT 999);
CREATE VIEW test_tab_cmp AS SELECT a, b, c IS NOT NULL AS has_c, d FROM test_tab;
-- @mapping
  - { from: public.test_tab, to: public.test_tab, key: [a], columns: { a: a, b: b } }
-- @dml
INSERT INTO test_tab VALUES (1, 'foo'), (2, 'bar');
BEGIN;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(3, 5) s(i);
UPDATE test_tab SET b = md5(b) WHERE mod(a, 2) = 0;
DELETE FROM test_tab WHERE mod(a, 3) = 0;
SAVEPOINT s1;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(6, 8) s(i);
UPDATE test_tab SET b = md5(b) WHERE mod(a, 2) = 0;
DELETE FROM test_tab WHERE mod(a, 3) = 0;
SAVEPOINT s2;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(9, 11) s(i);
UPDATE test_tab SET b = md5(b) WHERE mod(a, 2) = 0;
DELETE FROM test_tab WHERE mod(a, 3) = 0;
SAVEPOINT s3;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(12, 14) s(i);
UPDATE test_tab SET b = md5(b) WHERE mod(a, 2) = 0;
DELETE FROM test_tab WHERE mod(a, 3) = 0;
SAVEPOINT s4;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(15, 17) s(i);
UPDATE test_tab SET b = md5(b) WHERE mod(a, 2) = 0;
DELETE FROM test_tab WHERE mod(a, 3) = 0;
COMMIT;
-- The same with a few hundred rows per level.
BEGIN;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(101, 300) s(i);
SAVEPOINT s1;
UPDATE test_tab SET b = md5(b) WHERE a > 100 AND mod(a, 2) = 0;
SAVEPOINT s2;
DELETE FROM test_tab WHERE a > 100 AND mod(a, 3) = 0;
RELEASE SAVEPOINT s2;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(301, 400) s(i);
COMMIT;
-- @expect
-- expect test_tab_cmp: SELECT a, b, true, 999 FROM test_tab
