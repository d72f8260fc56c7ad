-- from: postgres src/test/subscription/t/001_rep_changes.pl
-- what: a mapped column dropped on the source: the target keeps what it had, later changes apply to the other columns
-- tables: tab_mixed
-- @source
CREATE TABLE tab_mixed (a int PRIMARY KEY, b text, c numeric);
-- @analytics
CREATE TABLE tab_mixed (a int PRIMARY KEY, b text, c numeric);
-- @dml
INSERT INTO tab_mixed VALUES (1, 'baz', 1.1), (2, 'foo', 2.0);
-- This update arrives before the column goes away.
UPDATE tab_mixed SET b = 'bar', c = 2.2 WHERE a = 2;
ALTER TABLE tab_mixed DROP COLUMN b;
UPDATE tab_mixed SET c = 11.11 WHERE a = 1;
-- @expect
-- expect tab_mixed: VALUES (1, 'baz', 11.11), (2, 'bar', 2.2)
