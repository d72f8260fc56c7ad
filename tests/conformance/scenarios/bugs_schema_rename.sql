-- from: postgres src/test/subscription/t/100_bugs.pl
-- what: a schema renamed and a new table of the old name created in the transaction that writes both: changes follow the name each table had when it changed
-- tables: sch1.t1
-- @source
CREATE SCHEMA sch1;
CREATE TABLE sch1.t1 (c1 int);
-- @dml
BEGIN;
INSERT INTO sch1.t1 VALUES (1);
ALTER SCHEMA sch1 RENAME TO sch2;
CREATE SCHEMA sch1;
CREATE TABLE sch1.t1 (c1 int);
INSERT INTO sch1.t1 VALUES (2);
INSERT INTO sch2.t1 VALUES (3);
COMMIT;
-- @expect
-- The row inserted before the rename was in sch1.t1 then: the mapped name.
-- expect sch1.t1: VALUES (1), (2)
