-- demo_analytics.sql: the seed article's analytics model, as the demo
-- configuration (conf/demo.yaml) maps into it.  walpipe creates its own
-- schema and the staging table; the fact tables and views are yours.

CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.dim_users (
  user_id      bigint PRIMARY KEY,
  email        text,
  name         text,
  signed_up_at timestamptz
);

CREATE TABLE IF NOT EXISTS analytics.fact_orders (
  order_id    bigint PRIMARY KEY,
  user_id     bigint,
  amount      numeric(15,4),
  status      text,
  placed_at   timestamptz,
  deleted_at  timestamptz,
  source_lsn  pg_lsn
);

-- As in the seed: events partitioned by time; walpipe appends to it.
CREATE TABLE IF NOT EXISTS analytics.fact_user_events (
  id          bigserial,
  user_id     bigint NOT NULL,
  event_type  text NOT NULL,
  event_value numeric(15,4),
  metadata    jsonb,
  event_at    timestamptz NOT NULL,
  ingested_at timestamptz DEFAULT now(),
  PRIMARY KEY (id, event_at)
) PARTITION BY RANGE (event_at);
CREATE TABLE IF NOT EXISTS analytics.fact_user_events_default
  PARTITION OF analytics.fact_user_events DEFAULT;
CREATE INDEX IF NOT EXISTS idx_fact_user_events_user_time
  ON analytics.fact_user_events (user_id, event_at DESC);

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.mv_daily_user_metrics AS
SELECT user_id,
       date_trunc('day', event_at) AS day,
       count(*) AS event_count,
       sum(event_value) AS total_value,
       count(DISTINCT event_type) AS unique_event_types
  FROM analytics.fact_user_events
 GROUP BY user_id, date_trunc('day', event_at);
CREATE UNIQUE INDEX IF NOT EXISTS mv_daily_user_metrics_key
  ON analytics.mv_daily_user_metrics (user_id, day);
