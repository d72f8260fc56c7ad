-- from: postgres src/test/subscription/t/028_row_filter.pl
-- what: a TOASTed column in a replica identity index: an update of the other key column keeps it (the change carries it only in its old key)
-- tables: tab_toast_key
-- @source
CREATE TABLE tab_toast_key (a text NOT NULL, b text NOT NULL);
ALTER TABLE tab_toast_key ALTER COLUMN a SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX tab_toast_key_ri_index ON tab_toast_key (a, b);
ALTER TABLE tab_toast_key REPLICA IDENTITY USING INDEX tab_toast_key_ri_index;
-- @dml
INSERT INTO tab_toast_key (a, b) VALUES (repeat('1234567890', 200), '1234567890');
-- a is left out of the new row (unchanged, TOASTed) and is in the identity.
UPDATE tab_toast_key SET b = '1';
INSERT INTO tab_toast_key (a, b) VALUES (repeat('abcdefghij', 240), 'k');
UPDATE tab_toast_key SET b = 'l' WHERE b = 'k';
DELETE FROM tab_toast_key WHERE b = 'l';
