-- from: wal2json sql/savepoint.sql
-- what: subtransactions: rows of a savepoint rolled back to never arrive, released ones do
-- tables: xpto
-- @source
CREATE TABLE xpto (a serial PRIMARY KEY, b text);
-- @dml
INSERT INTO xpto (b) VALUES ('john');
INSERT INTO xpto (b) VALUES ('smith');
INSERT INTO xpto (b) VALUES ('robert');
BEGIN;
INSERT INTO xpto (b) VALUES ('marie');
SAVEPOINT sp1;
INSERT INTO xpto (b) VALUES ('ernesto');
SAVEPOINT sp2;
INSERT INTO xpto (b) VALUES ('peter');
SAVEPOINT sp3;
INSERT INTO xpto (b) VALUES ('albert');
UPDATE xpto SET b = 'JOHN' WHERE b = 'john';
ROLLBACK TO SAVEPOINT sp2;
RELEASE SAVEPOINT sp1;
INSERT INTO xpto (b) VALUES ('francisco');
SAVEPOINT sp4;
DELETE FROM xpto WHERE b = 'smith';
ROLLBACK TO SAVEPOINT sp4;
DELETE FROM xpto WHERE b = 'robert';
END;
