-- from: wal2json sql/position.sql
-- what: a column added and another dropped between changes: values land in the columns of their names, not positions
-- tables: w2j_position
-- @source
CREATE TABLE w2j_position (a integer, b integer, PRIMARY KEY (a));
-- @analytics
-- The target has the columns the source ends with.
CREATE TABLE w2j_position (a integer PRIMARY KEY, c integer);
-- @mapping
  - { from: public.w2j_position, to: public.w2j_position, key: [a], columns: { a: a, c: c } }
-- @dml
INSERT INTO w2j_position (a, b) VALUES (1, 2);
UPDATE w2j_position SET b = 3 WHERE a = 1;
ALTER TABLE w2j_position ADD COLUMN c integer;
ALTER TABLE w2j_position DROP COLUMN b;
INSERT INTO w2j_position (a, c) VALUES (5, 6);
UPDATE w2j_position SET c = 7 WHERE a = 5;
