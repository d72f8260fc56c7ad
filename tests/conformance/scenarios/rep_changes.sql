-- from: postgres src/test/subscription/t/001_rep_changes.pl
-- what: inserts, deletes and key updates; a target with its own column order and a local default; REPLICA IDENTITY FULL with a key; unchanged TOAST values
-- tables: tab_rep, tab_mixed, tab_full_pk, tab_notrep_neighbour
-- @source
-- Not listed in the configuration: its changes must go nowhere.
CREATE TABLE tab_notrep (a int);
CREATE TABLE tab_rep (a int PRIMARY KEY);
CREATE TABLE tab_mixed (a int PRIMARY KEY, b text, c numeric);
CREATE TABLE tab_full_pk (a int PRIMARY KEY, b text);
ALTER TABLE tab_full_pk REPLICA IDENTITY FULL;
-- A listed table next to the unlisted one, written in the same transactions.
CREATE TABLE tab_notrep_neighbour (a int PRIMARY KEY);
-- @analytics
CREATE TABLE tab_rep (a int PRIMARY KEY);
-- Another column order than the source, and a column of its own.
CREATE TABLE tab_mixed (d text DEFAULT 'local', c numeric, b text, a int PRIMARY KEY);
CREATE TABLE tab_full_pk (a int PRIMARY KEY, b text);
CREATE TABLE tab_notrep_neighbour (a int PRIMARY KEY);
-- @dml
INSERT INTO tab_notrep SELECT generate_series(1, 10);
BEGIN;
INSERT INTO tab_notrep SELECT generate_series(11, 20);
INSERT INTO tab_notrep_neighbour SELECT generate_series(1, 20);
COMMIT;
INSERT INTO tab_rep SELECT generate_series(1, 50);
DELETE FROM tab_rep WHERE a > 20;
UPDATE tab_rep SET a = -a;
INSERT INTO tab_mixed VALUES (1, 'foo', 1.1);
INSERT INTO tab_mixed VALUES (2, 'bar', 2.2);
INSERT INTO tab_full_pk VALUES (1, 'foo'), (2, 'baz');
UPDATE tab_mixed SET b = 'baz' WHERE a = 1;
UPDATE tab_full_pk SET b = 'bar' WHERE a = 1;
UPDATE tab_full_pk SET b = 'quux' WHERE a = 1;
DELETE FROM tab_full_pk WHERE a = 2;
-- A large value, then an update that leaves it out of the change.
UPDATE tab_mixed SET b = repeat('xyzzy', 100000) WHERE a = 2;
UPDATE tab_mixed SET c = 3.3 WHERE a = 2;
DELETE FROM tab_rep WHERE a = -20;
-- @expect
-- expect tab_mixed: SELECT 'local' AS d, c, b, a FROM tab_mixed
