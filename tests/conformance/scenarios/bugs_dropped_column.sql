-- from: postgres src/test/subscription/t/100_bugs.pl
-- what: REPLICA IDENTITY FULL on a table with a dropped column: updates and deletes still find their rows
-- tables: dropped_cols
-- @source
-- With a primary key here: without one walpipe has nothing to find rows by.
CREATE TABLE dropped_cols (a int PRIMARY KEY, b_drop int, c int);
ALTER TABLE dropped_cols REPLICA IDENTITY FULL;
ALTER TABLE dropped_cols DROP COLUMN b_drop;
-- @dml
INSERT INTO dropped_cols VALUES (1, 1), (2, 2);
UPDATE dropped_cols SET a = 100 WHERE a = 1;
UPDATE dropped_cols SET c = 20 WHERE a = 2;
DELETE FROM dropped_cols WHERE a = 100;
INSERT INTO dropped_cols VALUES (3, 3);
