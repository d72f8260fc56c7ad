-- from: postgres src/test/subscription/t/011_generated.pl
-- what: generated columns: targets compute their own (PostgreSQL 15 does not publish them), with another expression or the same
-- tables: tab1, tab2
-- @source
CREATE TABLE tab1 (a int PRIMARY KEY, b int GENERATED ALWAYS AS (a * 2) STORED);
CREATE TABLE tab2 (a int PRIMARY KEY, b int GENERATED ALWAYS AS (a * 2) STORED, c text);
-- @analytics
-- tab1's target has a generated column of its own with another expression.
CREATE TABLE tab1 (a int PRIMARY KEY, b int GENERATED ALWAYS AS (a * 22) STORED);
-- tab2's target computes the same expression.
CREATE TABLE tab2 (a int PRIMARY KEY, b int GENERATED ALWAYS AS (a * 2) STORED, c text);
-- @mapping
  - from: public.tab1
    to: public.tab1
    key: [a]
    columns: { a: a }
-- @dml
INSERT INTO tab1 (a) VALUES (1), (2), (3);
INSERT INTO tab1 VALUES (4), (5);
UPDATE tab1 SET a = 6 WHERE a = 5;
DELETE FROM tab1 WHERE a = 2;
INSERT INTO tab2 (a, c) VALUES (1, 'x'), (2, 'y');
UPDATE tab2 SET a = a + 10, c = c || '!';
-- @expect
-- expect tab1: SELECT a, a * 22 FROM tab1
