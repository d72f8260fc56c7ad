-- from: postgres src/test/subscription/t/028_row_filter.pl
-- what: rows that stop matching a where clause leave the target, rows that start matching enter it, rows that match before and after follow their updates
-- tables: tab_rowfilter_1
-- @source
CREATE TABLE tab_rowfilter_1 (a int PRIMARY KEY, b text);
ALTER TABLE tab_rowfilter_1 REPLICA IDENTITY FULL;
-- @mapping
  - from: public.tab_rowfilter_1
    to: public.tab_rowfilter_1
    key: [a]
    columns: { a: a, b: b }
    where: "a > 1000 AND b <> 'filtered'"
-- @dml
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1985, 'not filtered');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1620, 'test 1620');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1621, 'test 1621');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1622, 'filtered');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1720, 'test 1720');
-- b <> 'filtered' is not true for NULL: the row stops matching.
UPDATE tab_rowfilter_1 SET b = NULL WHERE a = 1620;
UPDATE tab_rowfilter_1 SET b = 'test 1621 updated' WHERE a = 1621;
-- Starts matching.
UPDATE tab_rowfilter_1 SET b = 'test 1622 updated' WHERE a = 1622;
DELETE FROM tab_rowfilter_1 WHERE a = 1720;
-- Out by its key, then in again, in one transaction.
BEGIN;
UPDATE tab_rowfilter_1 SET a = 999 WHERE a = 1985;
UPDATE tab_rowfilter_1 SET a = 1986 WHERE a = 999;
COMMIT;
-- @expect
-- expect tab_rowfilter_1: SELECT * FROM tab_rowfilter_1 WHERE a > 1000 AND b <> 'filtered'
