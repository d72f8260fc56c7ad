-- from: postgres src/test/subscription/t/003_constraints.pl
-- what: a foreign key between two targets (the child mapped first, with another column order) holds while parent and child rows arrive, move and leave, in one transaction or several
-- tables: tab_fk_ref, tab_fk
-- @source
CREATE TABLE tab_fk (bid int PRIMARY KEY);
CREATE TABLE tab_fk_ref (id int PRIMARY KEY, junk text, bid int REFERENCES tab_fk (bid));
-- @analytics
-- The targets keep the foreign key (walpipe applies as an ordinary
-- session: unlike a subscription's apply worker it does not run with
-- session_replication_role = replica), so parent rows must be in before
-- their children and children gone before their parents.
CREATE TABLE tab_fk (bid int PRIMARY KEY);
CREATE TABLE tab_fk_ref (id int PRIMARY KEY, bid int REFERENCES tab_fk (bid), junk text);
-- @dml
INSERT INTO tab_fk (bid) VALUES (1);
INSERT INTO tab_fk_ref (id, bid, junk) VALUES (1, 1, 'junk');
BEGIN;
INSERT INTO tab_fk (bid) VALUES (2), (3);
INSERT INTO tab_fk_ref (id, bid) VALUES (2, 2), (3, 3);
COMMIT;
-- The child moves to another parent; the old parent goes.
UPDATE tab_fk_ref SET bid = 2 WHERE bid = 1;
DELETE FROM tab_fk WHERE bid = 1;
UPDATE tab_fk_ref SET id = 6 WHERE id = 1;
BEGIN;
DELETE FROM tab_fk_ref WHERE bid = 3;
DELETE FROM tab_fk WHERE bid = 3;
INSERT INTO tab_fk (bid) VALUES (4);
INSERT INTO tab_fk_ref (id, bid) VALUES (4, 4);
COMMIT;
-- @expect
-- expect tab_fk_ref: SELECT id, bid, junk FROM tab_fk_ref
