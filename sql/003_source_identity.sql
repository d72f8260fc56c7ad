-- walpipe schema, version 3: the checkpoint names the source cluster.
--
-- Run by walpipe after 002 (see 001), or by hand:
--   psql -v schema=walpipe -f sql/003_source_identity.sql

-- system_id (since version 1, now written) and timeline: the source cluster
-- and its timeline the checkpoint's position belongs to.  A WAL position
-- means nothing in another cluster, nor past the point where the source's
-- history left the recorded timeline (a restore, a promoted standby that
-- had not received everything): walpipe refuses to start there instead of
-- skipping changes below its checkpoint.
ALTER TABLE :"schema".checkpoints ADD COLUMN IF NOT EXISTS timeline int;

INSERT INTO :"schema".schema_version (version) VALUES (3) ON CONFLICT DO NOTHING;
