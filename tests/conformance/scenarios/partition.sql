-- from: postgres src/test/subscription/t/013_partition.pl
-- what: a partitioned table streamed through its leaf partitions, into plain tables and into a differently partitioned table; rows moving between partitions; TRUNCATE of a leaf and of the root
-- tables: tab1_1, tab1_2, tab1_def
-- compare: sub1.tab1, sub1.tab1_2_1, sub1.tab1_2_2, sub2.tab1_1, sub2.tab1_2, sub2.tab1_def
-- @source
-- The leaves mapped one by one, like the original's first subscriber:
-- the root's target is reached through its own partitions (sub1).  The
-- parts of the original about publishing through the root:
-- partition_root.
CREATE TABLE tab1 (a int PRIMARY KEY, b text) PARTITION BY LIST (a);
CREATE TABLE tab1_1 (b text, a int NOT NULL);
ALTER TABLE tab1 ATTACH PARTITION tab1_1 FOR VALUES IN (1, 2, 3);
CREATE TABLE tab1_2 PARTITION OF tab1 FOR VALUES IN (4, 5, 6);
CREATE TABLE tab1_def PARTITION OF tab1 DEFAULT;
-- @analytics
-- sub1: partitioned otherwise (tab1_2 has partitions of its own), with a
-- column of its own; each source leaf goes to the partition of the same name.
CREATE SCHEMA sub1;
CREATE TABLE sub1.tab1 (c text, a int PRIMARY KEY, b text) PARTITION BY LIST (a);
CREATE TABLE sub1.tab1_1 (b text, c text DEFAULT 'sub1_tab1', a int NOT NULL);
ALTER TABLE sub1.tab1 ATTACH PARTITION sub1.tab1_1 FOR VALUES IN (1, 2, 3);
CREATE TABLE sub1.tab1_2 PARTITION OF sub1.tab1 (c DEFAULT 'sub1_tab1')
  FOR VALUES IN (4, 5, 6) PARTITION BY LIST (a);
CREATE TABLE sub1.tab1_2_1 (c text, b text, a int NOT NULL);
ALTER TABLE sub1.tab1_2 ATTACH PARTITION sub1.tab1_2_1 FOR VALUES IN (5);
CREATE TABLE sub1.tab1_2_2 PARTITION OF sub1.tab1_2 FOR VALUES IN (4, 6);
CREATE TABLE sub1.tab1_def PARTITION OF sub1.tab1 (c DEFAULT 'sub1_tab1') DEFAULT;
-- sub2: one plain table per source leaf.
CREATE SCHEMA sub2;
CREATE TABLE sub2.tab1_1 (a int PRIMARY KEY, c text DEFAULT 'sub2_tab1_1', b text);
CREATE TABLE sub2.tab1_2 (a int PRIMARY KEY, c text DEFAULT 'sub2_tab1_2', b text);
CREATE TABLE sub2.tab1_def (a int PRIMARY KEY, b text, c text DEFAULT 'sub2_tab1_def');
-- @mapping
  - { from: public.tab1_1, to: sub1.tab1_1, key: [a], columns: { a: a, b: b } }
  - { from: public.tab1_2, to: sub1.tab1_2, key: [a], columns: { a: a, b: b } }
  - { from: public.tab1_def, to: sub1.tab1_def, key: [a], columns: { a: a, b: b } }
  - { from: public.tab1_1, to: sub2.tab1_1, key: [a], columns: { a: a, b: b } }
  - { from: public.tab1_2, to: sub2.tab1_2, key: [a], columns: { a: a, b: b } }
  - { from: public.tab1_def, to: sub2.tab1_def, key: [a], columns: { a: a, b: b } }
-- @dml
INSERT INTO tab1 VALUES (1);
INSERT INTO tab1_1 (a) VALUES (3);
INSERT INTO tab1_2 VALUES (5);
INSERT INTO tab1 VALUES (0);
-- Updates inside one source leaf (moving between sub1's partitions).
UPDATE tab1 SET a = 2 WHERE a = 1;
UPDATE tab1 SET a = 6 WHERE a = 5;
UPDATE tab1 SET a = 4 WHERE a = 6;
UPDATE tab1 SET a = 6 WHERE a = 4;
-- Updates moving rows between source leaves: a delete and an insert.
UPDATE tab1 SET a = 1 WHERE a = 0;
UPDATE tab1 SET a = 4 WHERE a = 1;
DELETE FROM tab1 WHERE a IN (2, 3, 5);
DELETE FROM tab1_2;
INSERT INTO tab1 VALUES (1, 'foo'), (4, 'bar'), (10, 'baz'), (2, 'qux'), (5, 'quux');
TRUNCATE tab1_2;
UPDATE tab1 SET b = 'quuz' WHERE a = 1;
-- In one transaction: moves both ways, and back.
BEGIN;
UPDATE tab1 SET a = 5, b = 'moved' WHERE a = 10;
UPDATE tab1 SET a = 11 WHERE a = 2;
UPDATE tab1 SET a = 2 WHERE a = 11;
COMMIT;
TRUNCATE tab1;
INSERT INTO tab1 VALUES (3, 'after'), (6, 'after'), (7, 'after');
-- @expect
-- expect sub1.tab1: SELECT 'sub1_tab1', a, b FROM tab1
-- expect sub1.tab1_2_1: SELECT 'sub1_tab1', b, a FROM tab1 WHERE a = 5
-- expect sub1.tab1_2_2: SELECT 'sub1_tab1', a, b FROM tab1 WHERE a IN (4, 6)
-- expect sub2.tab1_1: SELECT a, 'sub2_tab1_1', b FROM tab1_1
-- expect sub2.tab1_2: SELECT a, 'sub2_tab1_2', b FROM tab1_2
-- expect sub2.tab1_def: SELECT a, b, 'sub2_tab1_def' FROM tab1_def
