-- from: postgres src/test/subscription/t/010_truncate.pl
-- what: one TRUNCATE of two tables tied by a foreign key, which the targets keep
-- tables: tab3, tab4
-- @source
CREATE TABLE tab3 (a int PRIMARY KEY);
CREATE TABLE tab4 (x int PRIMARY KEY, y int REFERENCES tab3);
-- @analytics
CREATE TABLE tab3 (a int PRIMARY KEY);
CREATE TABLE tab4 (x int PRIMARY KEY, y int REFERENCES tab3);
-- @dml
INSERT INTO tab3 VALUES (1), (2), (3);
INSERT INTO tab4 VALUES (11, 1), (111, 1), (22, 2);
TRUNCATE tab3, tab4;
INSERT INTO tab3 VALUES (4);
INSERT INTO tab4 VALUES (44, 4);
