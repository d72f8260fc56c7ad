-- from: wal2json sql/truncate.sql
-- what: TRUNCATE of keyless tables alone, inside transactions between inserts, rolled back, and of two tables at once
-- tables: table_truncate_1, table_truncate_2, table_truncate_3, table_truncate_4, table_truncate_5, table_truncate_6
-- @source
CREATE TABLE table_truncate_1 (a integer, b text);
CREATE TABLE table_truncate_2 (a integer, b text);
CREATE TABLE table_truncate_3 (a integer, b text);
CREATE TABLE table_truncate_4 (a integer, b text);
CREATE TABLE table_truncate_5 (a integer, b text);
CREATE TABLE table_truncate_6 (a integer, b text);
-- @dml
INSERT INTO table_truncate_1 VALUES (0, 'test0');
TRUNCATE table_truncate_1;
BEGIN;
TRUNCATE table_truncate_2;
INSERT INTO table_truncate_1 (a, b) VALUES (1, 'test1');
INSERT INTO table_truncate_3 (a, b) VALUES (2, 'test2');
TRUNCATE table_truncate_3;
INSERT INTO table_truncate_3 (a, b) VALUES (3, 'test3');
COMMIT;
INSERT INTO table_truncate_4 VALUES (4, 'test4');
BEGIN;
TRUNCATE table_truncate_4;
ROLLBACK;
INSERT INTO table_truncate_5 VALUES (5, 'test5');
INSERT INTO table_truncate_6 VALUES (6, 'test6');
BEGIN;
TRUNCATE table_truncate_5, table_truncate_6;
INSERT INTO table_truncate_6 VALUES (66, 'test66');
COMMIT;
