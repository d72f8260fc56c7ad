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
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1980, 'not filtered');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1600, 'test 1600');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1601, 'test 1601');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1602, 'filtered');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1700, 'test 1700');
-- b <> 'filtered' is not true for NULL: the row stops matching.
UPDATE tab_rowfilter_1 SET b = NULL WHERE a = 1600;
UPDATE tab_rowfilter_1 SET b = 'test 1601 updated' WHERE a = 1601;
-- Starts matching.
UPDATE tab_rowfilter_1 SET b = 'test 1602 updated' WHERE a = 1602;
DELETE FROM tab_rowfilter_1 WHERE a = 1700;
-- Out by its key, then in again, in one transaction.
BEGIN;
UPDATE tab_rowfilter_1 SET a = 999 WHERE a = 1980;
UPDATE tab_rowfilter_1 SET a = 1981 WHERE a = 999;
COMMIT;
-- @expect
-- expect tab_rowfilter_1: SELECT * FROM tab_rowfilter_1 WHERE a > 1000 AND b <> 'filtered'
