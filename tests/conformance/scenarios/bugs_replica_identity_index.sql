-- from: postgres src/test/subscription/t/100_bugs.pl
-- what: REPLICA IDENTITY USING INDEX switched to another unique index; updates and deletes after the switch are found by the new one
-- tables: tab_replidentity_index
-- @source
CREATE TABLE tab_replidentity_index (a int NOT NULL, b int NOT NULL);
CREATE UNIQUE INDEX idx_replidentity_index_a ON tab_replidentity_index (a);
CREATE UNIQUE INDEX idx_replidentity_index_b ON tab_replidentity_index (b);
ALTER TABLE tab_replidentity_index REPLICA IDENTITY USING INDEX idx_replidentity_index_a;
-- @analytics
-- The target is keyed by b, the identity the source ends with.
CREATE TABLE tab_replidentity_index (a int NOT NULL, b int NOT NULL);
CREATE UNIQUE INDEX idx_replidentity_index_a ON tab_replidentity_index (a);
CREATE UNIQUE INDEX idx_replidentity_index_b ON tab_replidentity_index (b);
-- @mapping
  - from: public.tab_replidentity_index
    to: public.tab_replidentity_index
    key: [b]
    columns: { a: a, b: b }
-- @dml
INSERT INTO tab_replidentity_index VALUES (1, 1), (2, 2);
ALTER TABLE tab_replidentity_index REPLICA IDENTITY USING INDEX idx_replidentity_index_b;
UPDATE tab_replidentity_index SET a = -a WHERE a = 1;
DELETE FROM tab_replidentity_index WHERE a = 2;
