-- from: postgres src/test/subscription/t/018_stream_subxact_abort.pl
-- what: savepoints rolled back to, released and out of order, and whole transactions rolled back: nothing undone may arrive
-- tables: test_tab, test_tab_2
-- compare: test_tab_cmp, test_tab_2
-- @source
CREATE TABLE test_tab (a int PRIMARY KEY, b varchar);
CREATE TABLE test_tab_2 (a int);
-- @analytics
CREATE TABLE test_tab (a int PRIMARY KEY, b text, c int, d int, e int);
CREATE VIEW test_tab_cmp AS SELECT a, b, c FROM test_tab;
CREATE TABLE test_tab_2 (a int);
-- @mapping
  - { from: public.test_tab, to: public.test_tab, key: [a], columns: { a: a, b: b } }
-- @dml
INSERT INTO test_tab VALUES (1, 'first'), (2, 'second');
BEGIN;
INSERT INTO test_tab VALUES (30, 'v30');
SAVEPOINT s1;
INSERT INTO test_tab VALUES (40, 'v40');
SAVEPOINT s2;
INSERT INTO test_tab VALUES (50, 'v50');
SAVEPOINT s3;
INSERT INTO test_tab VALUES (60, 'v60');
ROLLBACK TO s2;
INSERT INTO test_tab VALUES (70, 'v70');
ROLLBACK TO s1;
INSERT INTO test_tab VALUES (80, 'v80');
SAVEPOINT s4;
INSERT INTO test_tab VALUES (90, 'v90');
SAVEPOINT s5;
INSERT INTO test_tab VALUES (100, 'v100');
COMMIT;
-- A release inside a level that is rolled back later.
BEGIN;
INSERT INTO test_tab VALUES (110, 'v110');
SAVEPOINT s1;
INSERT INTO test_tab VALUES (120, 'v120');
SAVEPOINT s2;
INSERT INTO test_tab VALUES (130, 'v130');
SAVEPOINT s3;
INSERT INTO test_tab VALUES (140, 'v140');
RELEASE s2;
INSERT INTO test_tab VALUES (150, 'v150');
ROLLBACK TO s1;
COMMIT;
BEGIN;
INSERT INTO test_tab VALUES (160, 'v160');
SAVEPOINT s1;
INSERT INTO test_tab VALUES (170, 'v170');
SAVEPOINT s2;
INSERT INTO test_tab VALUES (180, 'v180');
ROLLBACK;
-- Rolled back updates and deletes of rows that exist.
BEGIN;
UPDATE test_tab SET b = 'kept' WHERE a = 1;
SAVEPOINT s1;
UPDATE test_tab SET b = 'undone' WHERE a <= 30;
DELETE FROM test_tab WHERE a = 2;
ROLLBACK TO s1;
DELETE FROM test_tab WHERE a = 80;
COMMIT;
BEGIN;
INSERT INTO test_tab_2 VALUES (7);
ROLLBACK;
BEGIN;
INSERT INTO test_tab_2 VALUES (8);
SAVEPOINT sp;
INSERT INTO test_tab_2 VALUES (9);
ROLLBACK TO sp;
COMMIT;
-- @expect
-- expect test_tab_cmp: SELECT a, b, NULL::int FROM test_tab
