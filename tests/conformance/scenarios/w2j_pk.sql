-- from: wal2json sql/pk.sql
-- what: a composite primary key of timestamp, boolean and numeric columns; a replica identity index; a table without either; inserts, key updates, deletes
-- tables: w2j_pk_with_pk, w2j_pk_without_pk, w2j_pk_with_ri
-- @source
CREATE TABLE w2j_pk_with_pk (a int, b timestamp, c text, d boolean, e numeric(5,3), PRIMARY KEY (b, d, e));
-- No key: wal2json drops its updates and deletes; its append target keeps
-- the rows as inserted.
CREATE TABLE w2j_pk_without_pk (a int, b timestamp, c text, d boolean, e numeric(5,3));
CREATE TABLE w2j_pk_with_ri (a int NOT NULL, b timestamp, c text, d boolean, e numeric(5,3), UNIQUE (a));
ALTER TABLE w2j_pk_with_ri REPLICA IDENTITY USING INDEX w2j_pk_with_ri_a_key;
-- @dml
INSERT INTO w2j_pk_with_pk VALUES (123, '2021-05-17 09:41:12', 'black caiman', true, 4.56);
INSERT INTO w2j_pk_with_pk VALUES (124, '2021-05-17 09:41:13', 'spectacled caiman', true, 4.56);
UPDATE w2j_pk_with_pk SET a = 456, c = 'jaguar', d = false WHERE a = 123;
DELETE FROM w2j_pk_with_pk WHERE a = 124;
INSERT INTO w2j_pk_without_pk VALUES (123, '2021-05-17 09:41:12', 'black caiman', true, 4.56);
CREATE TABLE kept_without_pk AS SELECT * FROM w2j_pk_without_pk;
UPDATE w2j_pk_without_pk SET a = 456, c = 'jaguar', d = false;
DELETE FROM w2j_pk_without_pk;
INSERT INTO w2j_pk_with_ri VALUES (123, '2021-05-17 09:41:12', 'river dolphin', true, 4.56);
INSERT INTO w2j_pk_with_ri VALUES (124, '2021-05-17 09:41:13', 'tucuxi', false, 1.5);
UPDATE w2j_pk_with_ri SET a = 456, c = 'jaguar', d = false WHERE a = 123;
DELETE FROM w2j_pk_with_ri WHERE a = 124;
-- @expect
-- expect w2j_pk_without_pk: SELECT * FROM kept_without_pk
