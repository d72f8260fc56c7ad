-- from: wal2json sql/default.sql
-- what: columns filled by their defaults (also DEFAULT VALUES, NULL defaults, serials); a truncate between inserts of the same value
-- tables: w2j_default, w2j_truncate
-- @source
CREATE TABLE w2j_default (a serial, b integer DEFAULT 6, c text DEFAULT 'wal2json',
  d timestamp DEFAULT '2020-07-12 11:55:30', e integer DEFAULT NULL, f integer, PRIMARY KEY (a));
CREATE TABLE w2j_truncate (a serial PRIMARY KEY, b text NOT NULL);
-- @analytics
-- The target's defaults differ: values must come from the source.
CREATE TABLE w2j_default (a integer PRIMARY KEY, b integer DEFAULT 99, c text DEFAULT 'target',
  d timestamp DEFAULT now(), e integer DEFAULT 42, f integer DEFAULT 43);
CREATE TABLE w2j_truncate (a integer PRIMARY KEY, b text NOT NULL);
-- @dml
INSERT INTO w2j_default (b, c, d, e, f) VALUES (2, 'test', '2020-03-01 08:09:00', 80, 10);
INSERT INTO w2j_default DEFAULT VALUES;
UPDATE w2j_default SET b = 3 WHERE a = 1;
INSERT INTO w2j_default (f) VALUES (7);
INSERT INTO w2j_truncate (b) VALUES ('foo@bar.com');
TRUNCATE w2j_truncate;
INSERT INTO w2j_truncate (b) VALUES ('foo@bar.com');
