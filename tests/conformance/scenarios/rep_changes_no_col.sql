-- from: postgres src/test/subscription/t/001_rep_changes.pl
-- what: a table without columns: its rows still count (an append target records an op per insert)
-- tables: tab_no_col
-- @source
CREATE TABLE tab_no_col ();
-- @analytics
CREATE TABLE tab_no_col_log (op text);
-- A view without columns, row for row, to compare with the source table.
CREATE VIEW tab_no_col AS SELECT FROM tab_no_col_log;
-- @mapping
  - from: public.tab_no_col
    to: public.tab_no_col_log
    mode: append
    columns: { op: $op }
-- @dml
INSERT INTO tab_no_col DEFAULT VALUES;
INSERT INTO tab_no_col DEFAULT VALUES;
