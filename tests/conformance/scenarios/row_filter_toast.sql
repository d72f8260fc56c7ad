-- from: postgres src/test/subscription/t/028_row_filter.pl
-- what: a where clause on a TOASTed column of a replica identity index: an update of the other column makes the row match
-- tables: tab_rowfilter_toast
-- @source
CREATE TABLE tab_rowfilter_toast (a text NOT NULL, b text NOT NULL);
ALTER TABLE tab_rowfilter_toast ALTER COLUMN a SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX tab_rowfilter_toast_ri_index ON tab_rowfilter_toast (a, b);
ALTER TABLE tab_rowfilter_toast REPLICA IDENTITY USING INDEX tab_rowfilter_toast_ri_index;
-- @mapping
  - from: public.tab_rowfilter_toast
    to: public.tab_rowfilter_toast
    key: [a, b]
    columns: { a: a, b: b }
    where: "a = repeat('1234567890', 200) AND b < '10'"
-- @dml
INSERT INTO tab_rowfilter_toast (a, b) VALUES (repeat('1234567890', 200), '1234567890');
-- The unchanged TOASTed a is still in the change: it is part of the key.
UPDATE tab_rowfilter_toast SET b = '1';
-- @expect
-- expect tab_rowfilter_toast: SELECT * FROM tab_rowfilter_toast WHERE a = repeat('1234567890', 200) AND b < '10'
