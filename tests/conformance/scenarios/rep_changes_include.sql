-- from: postgres src/test/subscription/t/001_rep_changes.pl
-- what: a primary key with INCLUDE columns: only its key column identifies a row
-- tables: tab_include
-- @source
CREATE TABLE tab_include (a int, b text, CONSTRAINT covering PRIMARY KEY (a) INCLUDE (b));
-- @analytics
CREATE TABLE tab_include (a int, b text, CONSTRAINT covering PRIMARY KEY (a) INCLUDE (b));
-- @dml
INSERT INTO tab_include SELECT g, 'v' || g FROM generate_series(1, 50) g;
DELETE FROM tab_include WHERE a > 20;
UPDATE tab_include SET a = -a;
UPDATE tab_include SET b = 'w' || a WHERE a % 3 = 0;
DELETE FROM tab_include WHERE a = -7;
