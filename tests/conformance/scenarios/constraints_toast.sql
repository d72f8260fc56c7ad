-- from: postgres src/test/subscription/t/003_constraints.pl
-- what: a row with a value stored out of line, moved to another parent and given another primary key by updates that leave the value out
-- tables: tab_fk, tab_fk_ref
-- @source
CREATE TABLE tab_fk (bid int PRIMARY KEY);
CREATE TABLE tab_fk_ref (id int PRIMARY KEY, junk text, bid int REFERENCES tab_fk (bid));
-- @analytics
-- Without the foreign key here (see constraints): this is about the value.
CREATE TABLE tab_fk (bid int PRIMARY KEY);
CREATE TABLE tab_fk_ref (id int PRIMARY KEY, bid int, junk text);
-- @dml
INSERT INTO tab_fk (bid) VALUES (1), (2);
-- Large enough to be stored out of line.
INSERT INTO tab_fk_ref (id, bid, junk) VALUES (1, 1, repeat(pi()::text, 20000));
UPDATE tab_fk_ref SET bid = 2 WHERE bid = 1;
UPDATE tab_fk_ref SET id = 6 WHERE id = 1;
-- @expect
-- expect tab_fk_ref: SELECT id, bid, junk FROM tab_fk_ref
