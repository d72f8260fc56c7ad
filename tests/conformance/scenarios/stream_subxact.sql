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
INSERT INTO test_tab VALUES (1, 'one'), (2, 'two');
BEGIN;
INSERT INTO test_tab SELECT i, 'level 0 row ' || i FROM generate_series(3, 7) s(i);
UPDATE test_tab SET b = b || ' +0' WHERE a % 2 = 0;
DELETE FROM test_tab WHERE a % 5 = 0;
SAVEPOINT s1;
INSERT INTO test_tab SELECT i, 'level 1 row ' || i FROM generate_series(8, 12) s(i);
UPDATE test_tab SET b = b || ' +1' WHERE a % 3 = 0;
DELETE FROM test_tab WHERE a % 5 = 1;
SAVEPOINT s2;
INSERT INTO test_tab SELECT i, 'level 2 row ' || i FROM generate_series(13, 17) s(i);
UPDATE test_tab SET b = b || ' +2' WHERE a % 2 = 0;
DELETE FROM test_tab WHERE a % 5 = 2;
SAVEPOINT s3;
INSERT INTO test_tab SELECT i, 'level 3 row ' || i FROM generate_series(18, 22) s(i);
UPDATE test_tab SET b = b || ' +3' WHERE a % 3 = 0;
DELETE FROM test_tab WHERE a % 5 = 3;
SAVEPOINT s4;
INSERT INTO test_tab SELECT i, 'level 4 row ' || i FROM generate_series(23, 27) s(i);
UPDATE test_tab SET b = b || ' +4' WHERE a % 2 = 0;
DELETE FROM test_tab WHERE a % 5 = 4;
COMMIT;
-- The same with a few hundred rows per level.
BEGIN;
INSERT INTO test_tab SELECT i, sha256(i::text::bytea)::text FROM generate_series(101, 300) s(i);
SAVEPOINT s1;
UPDATE test_tab SET b = upper(b) WHERE a > 100 AND a % 4 = 1;
SAVEPOINT s2;
DELETE FROM test_tab WHERE a > 100 AND a % 7 = 0;
RELEASE SAVEPOINT s2;
INSERT INTO test_tab SELECT i, 'late ' || i FROM generate_series(301, 400) s(i);
COMMIT;
-- @expect
-- expect test_tab_cmp: SELECT a, b, true, 999 FROM test_tab
