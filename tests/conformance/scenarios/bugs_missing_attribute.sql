-- from: postgres src/test/subscription/t/100_bugs.pl
-- what: a column added with a default by the fast path (absent from rows written before it): an update sends its default, not NULL
-- tables: tab_default
-- @source
CREATE TABLE tab_default (a int PRIMARY KEY);
ALTER TABLE tab_default REPLICA IDENTITY FULL;
-- Written before the slot exists: its change is not streamed, but its
-- update is, whole (and walpipe's upsert inserts it).
INSERT INTO tab_default VALUES (1);
ALTER TABLE tab_default ADD COLUMN b bool DEFAULT false NOT NULL;
-- @dml
INSERT INTO tab_default VALUES (2, true);
UPDATE tab_default SET a = a + 10;
