-- from: postgres src/test/subscription/t/010_truncate.pl
-- what: TRUNCATE, with RESTART IDENTITY, of one table and of a mapped and an unmapped table together; a target that ignores truncates; a keyless table
-- tables: tab1, tab2, tab5
-- @source
CREATE TABLE tab1 (a int PRIMARY KEY);
-- Mapped with on_truncate: ignore (the original's publication without
-- truncate): its target keeps the rows.
CREATE TABLE tab2 (a int PRIMARY KEY);
-- Not in the configuration.
CREATE TABLE tab_other (a int PRIMARY KEY);
CREATE TABLE tab5 (a int);
-- The rows of tab2 before its truncates, for the expect query (not streamed).
CREATE TABLE tab2_kept (a int);
-- @analytics
CREATE TABLE tab1 (a int PRIMARY KEY);
-- A sequence owned by the target: a truncate from the source must not
-- restart it, RESTART IDENTITY or not (it is not the source's sequence).
CREATE SEQUENCE seq1 OWNED BY tab1.a;
CREATE TABLE tab2 (a int PRIMARY KEY);
CREATE TABLE tab5 (a int);
-- @mapping
  - from: public.tab2
    to: public.tab2
    key: [a]
    columns: { a: a }
    on_truncate: ignore
-- @dml
INSERT INTO tab1 VALUES (1), (2), (3);
TRUNCATE tab1;
INSERT INTO tab1 VALUES (4);
TRUNCATE tab1 RESTART IDENTITY;
INSERT INTO tab1 VALUES (5), (6);
INSERT INTO tab2 VALUES (1), (2), (3);
INSERT INTO tab2_kept SELECT * FROM tab2;
TRUNCATE tab2;
INSERT INTO tab_other VALUES (1);
-- One TRUNCATE of a mapped and an unmapped table.
TRUNCATE tab1, tab_other;
INSERT INTO tab1 VALUES (7);
INSERT INTO tab5 VALUES (1), (2), (3);
TRUNCATE tab5;
INSERT INTO tab5 VALUES (4), (4);
-- Truncate and insert in one transaction, and a truncate rolled back.
BEGIN;
INSERT INTO tab1 VALUES (8);
TRUNCATE tab1;
INSERT INTO tab1 VALUES (9);
COMMIT;
BEGIN;
TRUNCATE tab1;
ROLLBACK;
-- @expect
-- expect tab2: SELECT * FROM tab2_kept
