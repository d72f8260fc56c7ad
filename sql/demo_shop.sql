-- demo_shop.sql: the demo's source database, a small shop (packaging/demo.sh).
-- users place orders; every order's life is logged in order_events.  One
-- call of shop_tick() is one customer interaction, one small transaction.

CREATE TABLE IF NOT EXISTS public.users (
  id         bigserial PRIMARY KEY,
  email      text NOT NULL,
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.orders (
  id         bigserial PRIMARY KEY,
  user_id    bigint NOT NULL REFERENCES public.users,
  amount     numeric(12,2) NOT NULL,
  status     text NOT NULL,   -- new -> paid -> shipped; 'test' orders stay so
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.order_events (
  id         bigserial PRIMARY KEY,
  order_id   bigint NOT NULL,
  kind       text NOT NULL,   -- created, paid, shipped, cancelled
  value      numeric,
  payload    jsonb NOT NULL,  -- carries user_id: the events fact reads it there
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Each customer's visits: mirrored 1:1 by conf/demo.yaml's mirror section
-- (no mapping names it), into a target walpipe creates itself.
CREATE TABLE IF NOT EXISTS public.visits (
  user_id    bigint PRIMARY KEY,
  visits     integer NOT NULL,
  last_seen  timestamptz NOT NULL
);

-- One interaction: sometimes a new customer, always a new order, often a
-- payment or a shipment of an earlier order, now and then a cancellation
-- (the order row is deleted; analytics keeps it, soft-deleted).  A 'test'
-- order never changes status, so "status <> 'test'" selects the same
-- orders on both sides.
CREATE OR REPLACE FUNCTION public.shop_tick() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  uid bigint;
  oid bigint;
  newest bigint;
  amt numeric;
  st  text;
BEGIN
  IF random() < 0.2 OR NOT EXISTS (SELECT 1 FROM users) THEN
    INSERT INTO users (email, name)
      VALUES ('pending', 'customer') RETURNING id INTO uid;
    UPDATE users SET email = 'user' || uid || '@shop.example',
                     name = 'Customer ' || uid WHERE id = uid;
  ELSE
    SELECT id INTO uid FROM users
     WHERE id >= (random() * (SELECT max(id) FROM users))::bigint
     ORDER BY id LIMIT 1;
  END IF;

  INSERT INTO visits VALUES (uid, 1, now())
    ON CONFLICT (user_id) DO UPDATE SET visits = visits.visits + 1,
                                        last_seen = excluded.last_seen;

  amt := round((5 + random() * 495)::numeric, 2);
  st := CASE WHEN random() < 0.05 THEN 'test' ELSE 'new' END;
  INSERT INTO orders (user_id, amount, status) VALUES (uid, amt, st)
    RETURNING id INTO oid;
  newest := oid;
  INSERT INTO order_events (order_id, kind, value, payload)
    VALUES (oid, 'created', amt,
            jsonb_build_object('user_id', uid, 'order_id', oid, 'status', st));

  IF random() < 0.6 THEN
    UPDATE orders SET status = CASE status WHEN 'new' THEN 'paid' ELSE 'shipped' END
     WHERE id = (SELECT id FROM orders
                  WHERE status IN ('new', 'paid')
                    AND id >= (random() * newest)::bigint ORDER BY id LIMIT 1)
    RETURNING id, user_id, amount, status INTO oid, uid, amt, st;
    IF FOUND THEN
      INSERT INTO order_events (order_id, kind, value, payload)
        VALUES (oid, st, amt, jsonb_build_object('user_id', uid, 'order_id', oid));
    END IF;
  END IF;

  IF random() < 0.05 THEN
    DELETE FROM orders
     WHERE id = (SELECT id FROM orders
                  WHERE status <> 'test' AND id >= (random() * newest)::bigint
                  ORDER BY id LIMIT 1)
    RETURNING id, user_id, amount INTO oid, uid, amt;
    IF FOUND THEN
      INSERT INTO order_events (order_id, kind, value, payload)
        VALUES (oid, 'cancelled', -amt, jsonb_build_object('user_id', uid, 'order_id', oid));
    END IF;
  END IF;
END $$;
