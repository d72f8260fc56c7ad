-- from: wal2json sql/rename_column.sql
-- what: columns renamed, key columns too, between changes and inside a transaction; then REPLICA IDENTITY FULL
-- tables: w2j_rename_pk, w2j_rename_ri
-- @source
CREATE TABLE w2j_rename_pk (a int, b timestamp, c text, d boolean, e numeric(5,3), PRIMARY KEY (a, d));
CREATE TABLE w2j_rename_ri (a int NOT NULL, b timestamp, c text, d boolean NOT NULL, e numeric(5,3));
CREATE UNIQUE INDEX w2j_rename_ri_idx ON w2j_rename_ri (a, d);
ALTER TABLE w2j_rename_ri REPLICA IDENTITY USING INDEX w2j_rename_ri_idx;
-- @analytics
-- The targets have the names the source ends with.
CREATE TABLE w2j_rename_pk (g int, b timestamp, c text, f boolean, e numeric(5,3), PRIMARY KEY (g, f));
CREATE TABLE w2j_rename_ri (g int NOT NULL, b timestamp, c text, f boolean NOT NULL, e numeric(5,3), UNIQUE (g, f));
-- @mapping
  - { from: public.w2j_rename_pk, to: public.w2j_rename_pk, key: [g, f], columns: { g: g, b: b, c: c, f: f, e: e } }
  - { from: public.w2j_rename_ri, to: public.w2j_rename_ri, key: [g, f], columns: { g: g, b: b, c: c, f: f, e: e } }
-- @dml
INSERT INTO w2j_rename_pk (a, b, c, d, e) VALUES (123, '2021-05-17 09:41:12', 'black caiman', true, 4.56);
UPDATE w2j_rename_pk SET e = 8.76 WHERE a = 123;
ALTER TABLE w2j_rename_pk RENAME COLUMN d TO f;
INSERT INTO w2j_rename_pk (a, b, c, f, e) VALUES (456, '2022-01-30 23:59:59', 'jaguar', false, 4.44);
UPDATE w2j_rename_pk SET e = 2.718 WHERE a = 456;
BEGIN;
INSERT INTO w2j_rename_pk (a, b, c, f, e) VALUES (789, '2019-11-11 11:11:11', 'maned wolf', true, 20.30);
ALTER TABLE w2j_rename_pk RENAME COLUMN a TO g;
INSERT INTO w2j_rename_pk (g, b, c, f, e) VALUES (790, '2018-02-28 06:00:00', 'giant anteater', false, 1.8);
UPDATE w2j_rename_pk SET e = 3.1415 WHERE g = 456;
COMMIT;
INSERT INTO w2j_rename_ri (a, b, c, d, e) VALUES (123, '2021-05-17 09:41:12', 'black caiman', true, 4.56);
UPDATE w2j_rename_ri SET e = 8.76 WHERE a = 123;
ALTER TABLE w2j_rename_ri RENAME COLUMN d TO f;
INSERT INTO w2j_rename_ri (a, b, c, f, e) VALUES (456, '2022-01-30 23:59:59', 'jaguar', false, 4.44);
UPDATE w2j_rename_ri SET e = 2.718 WHERE a = 456;
BEGIN;
INSERT INTO w2j_rename_ri (a, b, c, f, e) VALUES (789, '2019-11-11 11:11:11', 'maned wolf', true, 20.30);
ALTER TABLE w2j_rename_ri RENAME COLUMN a TO g;
INSERT INTO w2j_rename_ri (g, b, c, f, e) VALUES (790, '2018-02-28 06:00:00', 'giant anteater', false, 1.8);
UPDATE w2j_rename_ri SET e = 3.1415 WHERE g = 456;
COMMIT;
ALTER TABLE w2j_rename_pk REPLICA IDENTITY FULL;
INSERT INTO w2j_rename_pk (g, b, c, f, e) VALUES (890, '2024-02-29 12:00:00', 'small-billed tinamou', true, 8.90);
UPDATE w2j_rename_pk SET e = 8.91 WHERE g = 890;
INSERT INTO w2j_rename_pk (g, b, c, f, e) VALUES (891, '2024-02-29 12:00:01', 'spotted nothura', true, 8.92);
DELETE FROM w2j_rename_pk WHERE g = 891;
