-- from: postgres src/test/subscription/t/015_stream.pl
-- what: large transactions (far more changes than a batch) of inserts, updates and deletes, one interleaved with another session's, into a target with columns of its own
-- tables: test_tab, test_tab_2
-- compare: test_tab_cmp, test_tab_2
-- @source
-- dblink gives the DML a second session, to interleave two transactions.
CREATE EXTENSION dblink;
CREATE TABLE test_tab (a int PRIMARY KEY, b varchar);
CREATE TABLE test_tab_2 (a int);
-- @analytics
-- Columns of its own with defaults: the mapping writes a and b only.
CREATE TABLE test_tab (a int PRIMARY KEY, b text, c timestamptz DEFAULT now(), d bigint DEFAULT 999);
CREATE VIEW test_tab_cmp AS SELECT a, b, c IS NOT NULL AS has_c, d FROM test_tab;
CREATE TABLE test_tab_2 (a int);
-- @mapping
  - { from: public.test_tab, to: public.test_tab, key: [a], columns: { a: a, b: b } }
-- @dml
INSERT INTO test_tab VALUES (1, 'foo'), (2, 'bar');
SELECT dblink_connect('other', format('host=%s port=%s dbname=%s user=%s',
  current_setting('unix_socket_directories'), current_setting('port'), current_database(), current_user));
BEGIN;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(3, 1000) s(i);
UPDATE test_tab SET b = md5(b) WHERE mod(a, 2) = 0;
DELETE FROM test_tab WHERE mod(a, 3) = 0;
-- Another transaction starts after this one and commits before it.
SELECT dblink_exec('other', 'BEGIN; INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(1001, 1999) s(i);
  DELETE FROM test_tab WHERE a > 1000; COMMIT');
COMMIT;
SELECT dblink_disconnect('other');
BEGIN;
INSERT INTO test_tab SELECT i, md5(i::text) FROM generate_series(1001, 2000) s(i);
UPDATE test_tab SET b = md5(b) WHERE mod(a, 2) = 0;
DELETE FROM test_tab WHERE mod(a, 3) = 0;
COMMIT;
-- Every row again, in one transaction.
UPDATE test_tab SET b = md5(a::text);
INSERT INTO test_tab_2 SELECT i FROM generate_series(1, 1000) s(i);
-- @expect
-- expect test_tab_cmp: SELECT a, b, true, 999 FROM test_tab
