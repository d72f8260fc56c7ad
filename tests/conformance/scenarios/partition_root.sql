-- from: postgres src/test/subscription/t/013_partition.pl
-- what: partitioned tables streamed through their root (publish_via_partition_root): a partition's changes are the root's, into plain, differently partitioned and hash-partitioned targets, also from a sub-partitioned root; rows moving between partitions; TRUNCATE of the roots
-- tables: tab1, tab2, tab3, tab4
-- compare: sub1.tab2, sub2.tab1, sub2.tab2, sub2.tab3, sub2.tab4
-- @source
-- The original's "replication using root table identity and schema"
-- part.  Not ported: tab3_1 and tab4_1 mapped beside their partitioned
-- tables (walpipe refuses a partition mapped beside its root: one stream
-- cannot give the same change both names), TRUNCATE of single partitions
-- (PostgreSQL does not replicate it; walpipe stops there, as
-- tests/integration/exact_partition_root.sh shows), the subscriber-side
-- deletes and the column dropped and added again on tab2.
CREATE TABLE tab1 (a int PRIMARY KEY, b text) PARTITION BY LIST (a);
CREATE TABLE tab1_1 (b text, a int NOT NULL);
ALTER TABLE tab1 ATTACH PARTITION tab1_1 FOR VALUES IN (1, 2, 3);
CREATE TABLE tab1_2 PARTITION OF tab1 FOR VALUES IN (4, 5, 6);
CREATE TABLE tab1_def PARTITION OF tab1 DEFAULT;
CREATE TABLE tab2 (a int PRIMARY KEY, b text) PARTITION BY LIST (a);
CREATE TABLE tab2_1 (b text, a int NOT NULL);
ALTER TABLE tab2 ATTACH PARTITION tab2_1 FOR VALUES IN (0, 1, 2, 3);
CREATE TABLE tab2_2 PARTITION OF tab2 FOR VALUES IN (5, 6);
CREATE TABLE tab3 (a int PRIMARY KEY, b text) PARTITION BY LIST (a);
CREATE TABLE tab3_1 PARTITION OF tab3 FOR VALUES IN (0, 1, 2, 3, 5, 6);
CREATE TABLE tab4 (a int PRIMARY KEY) PARTITION BY LIST (a);
CREATE TABLE tab4_1 PARTITION OF tab4 FOR VALUES IN (-1, 0, 1) PARTITION BY LIST (a);
CREATE TABLE tab4_1_1 PARTITION OF tab4_1 FOR VALUES IN (-1, 0, 1);
-- @analytics
CREATE SCHEMA sub1;
CREATE TABLE sub1.tab2 (a int PRIMARY KEY, c text DEFAULT 'sub1_tab2', b text) PARTITION BY RANGE (a);
CREATE TABLE sub1.tab2_1 (c text DEFAULT 'sub1_tab2', b text, a int NOT NULL);
ALTER TABLE sub1.tab2 ATTACH PARTITION sub1.tab2_1 FOR VALUES FROM (0) TO (10);
CREATE SCHEMA sub2;
CREATE TABLE sub2.tab1 (a int PRIMARY KEY, c text DEFAULT 'sub2_tab1', b text) PARTITION BY HASH (a);
CREATE TABLE sub2.tab1_part1 (b text, c text, a int NOT NULL);
ALTER TABLE sub2.tab1 ATTACH PARTITION sub2.tab1_part1 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE sub2.tab1_part2 PARTITION OF sub2.tab1 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE sub2.tab2 (a int PRIMARY KEY, c text DEFAULT 'sub2_tab2', b text);
CREATE TABLE sub2.tab3 (a int PRIMARY KEY, c text DEFAULT 'sub2_tab3', b text);
CREATE TABLE sub2.tab4 (a int PRIMARY KEY);
-- @mapping
  - { from: public.tab1, to: sub2.tab1, key: [a], columns: { a: a, b: b } }
  - { from: public.tab2, to: sub1.tab2, key: [a], columns: { a: a, b: b } }
  - { from: public.tab2, to: sub2.tab2, key: [a], columns: { a: a, b: b } }
  - { from: public.tab3, to: sub2.tab3, key: [a], columns: { a: a, b: b } }
  - { from: public.tab4, to: sub2.tab4, key: [a], columns: { a: a } }
-- @dml
-- The original's initial data, streamed here.
INSERT INTO tab2 VALUES (1);
INSERT INTO tab4 VALUES (-1);
INSERT INTO tab1 VALUES (1), (0);
INSERT INTO tab1_1 (a) VALUES (3);
INSERT INTO tab1_2 VALUES (5);
INSERT INTO tab2 VALUES (0), (3), (5);
INSERT INTO tab3 VALUES (1), (0), (3), (5);
-- Into the leaf of a sub-partitioned partition: arrives as tab4's.
INSERT INTO tab4 VALUES (0);
INSERT INTO tab4 VALUES (1);
-- Updates inside a partition.
UPDATE tab1 SET a = 6 WHERE a = 5;
UPDATE tab2 SET a = 6 WHERE a = 5;
UPDATE tab3 SET a = 6 WHERE a = 5;
-- Updates across partitions: a delete and an insert, one row in the end.
UPDATE tab1 SET a = 2 WHERE a = 6;
UPDATE tab2 SET a = 2 WHERE a = 6;
UPDATE tab3 SET a = 2 WHERE a = 6;
DELETE FROM tab1;
DELETE FROM tab2;
DELETE FROM tab3;
INSERT INTO tab1 VALUES (1), (2), (5);
INSERT INTO tab2 VALUES (1), (2), (5);
TRUNCATE tab1, tab2, tab3;
-- Not in the original: rows after the truncate, so the end is not empty,
-- moved across partitions in one transaction.
INSERT INTO tab1 VALUES (1, 'foo'), (4, 'bar'), (10, 'baz');
INSERT INTO tab2 VALUES (0, 'a'), (5, 'b');
INSERT INTO tab3 VALUES (1, 'c'), (6, 'd');
BEGIN;
UPDATE tab1 SET a = 3 WHERE a = 4;
UPDATE tab1 SET a = 4, b = 'back' WHERE a = 10;
UPDATE tab2 SET a = 6 WHERE a = 0;
UPDATE tab2 SET a = 0 WHERE a = 5;
UPDATE tab3 SET b = 'e' WHERE a = 1;
COMMIT;
-- @expect
-- expect sub1.tab2: SELECT a, 'sub1_tab2', b FROM tab2
-- expect sub2.tab1: SELECT a, 'sub2_tab1', b FROM tab1
-- expect sub2.tab2: SELECT a, 'sub2_tab2', b FROM tab2
-- expect sub2.tab3: SELECT a, 'sub2_tab3', b FROM tab3
-- expect sub2.tab4: SELECT a FROM tab4
