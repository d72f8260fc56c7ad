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
INSERT INTO test_tab VALUES (1, 'foo'), (2, 'bar');
BEGIN;
INSERT INTO test_tab VALUES (3, md5(3::text));
SAVEPOINT s1;
INSERT INTO test_tab VALUES (4, md5(4::text));
SAVEPOINT s2;
INSERT INTO test_tab VALUES (5, md5(5::text));
SAVEPOINT s3;
INSERT INTO test_tab VALUES (6, md5(6::text));
ROLLBACK TO s2;
INSERT INTO test_tab VALUES (7, md5(7::text));
ROLLBACK TO s1;
INSERT INTO test_tab VALUES (8, md5(8::text));
SAVEPOINT s4;
INSERT INTO test_tab VALUES (9, md5(9::text));
SAVEPOINT s5;
INSERT INTO test_tab VALUES (10, md5(10::text));
COMMIT;
-- A release inside a level that is rolled back later.
BEGIN;
INSERT INTO test_tab VALUES (11, md5(11::text));
SAVEPOINT s1;
INSERT INTO test_tab VALUES (12, md5(12::text));
SAVEPOINT s2;
INSERT INTO test_tab VALUES (13, md5(13::text));
SAVEPOINT s3;
INSERT INTO test_tab VALUES (14, md5(14::text));
RELEASE s2;
INSERT INTO test_tab VALUES (15, md5(15::text));
ROLLBACK TO s1;
COMMIT;
BEGIN;
INSERT INTO test_tab VALUES (16, md5(16::text));
SAVEPOINT s1;
INSERT INTO test_tab VALUES (17, md5(17::text));
SAVEPOINT s2;
INSERT INTO test_tab VALUES (18, md5(18::text));
ROLLBACK;
-- Rolled back updates and deletes of rows that exist.
BEGIN;
UPDATE test_tab SET b = 'kept' WHERE a = 1;
SAVEPOINT s1;
UPDATE test_tab SET b = 'undone' WHERE a <= 3;
DELETE FROM test_tab WHERE a = 2;
ROLLBACK TO s1;
DELETE FROM test_tab WHERE a = 8;
COMMIT;
BEGIN;
INSERT INTO test_tab_2 VALUES (1);
ROLLBACK;
BEGIN;
INSERT INTO test_tab_2 VALUES (1);
SAVEPOINT sp;
INSERT INTO test_tab_2 VALUES (1);
ROLLBACK TO sp;
COMMIT;
-- @expect
-- expect test_tab_cmp: SELECT a, b, NULL::int FROM test_tab
