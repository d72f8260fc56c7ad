-- from: postgres src/test/subscription/t/100_bugs.pl
-- what: a partial index whose predicate calls a SQL function, on both sides (bug #15114)
-- tables: tab1
-- @source
CREATE TABLE tab1 (a int PRIMARY KEY, b int);
CREATE FUNCTION double(x int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT x * 2';
CREATE INDEX ON tab1 (b) WHERE a > double(1);
-- @analytics
CREATE TABLE tab1 (a int PRIMARY KEY, b int);
CREATE FUNCTION double(x int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT x * 2';
CREATE INDEX ON tab1 (b) WHERE a > double(1);
-- @dml
INSERT INTO tab1 VALUES (1, 2);
INSERT INTO tab1 SELECT g, g * 10 FROM generate_series(2, 5) g;
UPDATE tab1 SET b = b + 1 WHERE a > 2;
DELETE FROM tab1 WHERE a = 4;
