-- from: postgres src/test/subscription/t/100_bugs.pl
-- what: temporary and unlogged tables without a replica identity are updated beside a mapped table; the unlogged one is even mapped, and nothing of it is decoded
-- tables: tab1, tu1
-- @source
CREATE TABLE tab1 (a int PRIMARY KEY);
CREATE UNLOGGED TABLE tu1 (a int);
-- @analytics
CREATE TABLE tab1 (a int PRIMARY KEY);
CREATE TABLE tu1 (a int);
-- @dml
BEGIN;
CREATE TEMPORARY TABLE tt1 AS SELECT 1 AS a;
UPDATE tt1 SET a = 2;
INSERT INTO tab1 VALUES (1);
COMMIT;
INSERT INTO tu1 VALUES (1);
UPDATE tu1 SET a = 2;
INSERT INTO tab1 VALUES (2);
-- @expect
-- Unlogged tables write no WAL: logical decoding never sees their rows.
-- expect tu1: SELECT * FROM tu1 WHERE false
