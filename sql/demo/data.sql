-- Deterministic demo data: every value is derived from md5 hashes of ids, never from
-- random(), so the same rows come out on every machine, server version and load.
-- Runs in the same transaction as schema.sql, as the owner.

-- h(key) -> 0 .. 2^32-1, the first 32 bits of md5(key).
CREATE FUNCTION pg_temp.h(key text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ('x' || substr(md5(key), 1, 8))::bit(32)::bigint $$;

CREATE TEMP TABLE demo_countries ON COMMIT DROP AS
SELECT * FROM (VALUES
    (1, 'United States', 'North America', ARRAY['New York','Chicago','Austin','Seattle','Denver','Boston']),
    (2, 'United States', 'North America', ARRAY['Los Angeles','Atlanta','Miami','Portland','Phoenix']),
    (3, 'Canada',        'North America', ARRAY['Toronto','Vancouver','Montreal','Calgary']),
    (4, 'Germany',       'Europe',        ARRAY['Berlin','Munich','Hamburg','Cologne']),
    (5, 'United Kingdom','Europe',        ARRAY['London','Manchester','Edinburgh','Bristol']),
    (6, 'France',        'Europe',        ARRAY['Paris','Lyon','Marseille','Toulouse']),
    (7, 'Spain',         'Europe',        ARRAY['Madrid','Barcelona','Valencia','Seville']),
    (8, 'Netherlands',   'Europe',        ARRAY['Amsterdam','Rotterdam','Utrecht']),
    (9, 'Japan',         'Asia Pacific',  ARRAY['Tokyo','Osaka','Kyoto','Yokohama']),
    (10,'Australia',     'Asia Pacific',  ARRAY['Sydney','Melbourne','Brisbane','Perth']),
    (11,'India',         'Asia Pacific',  ARRAY['Mumbai','Bengaluru','Delhi','Chennai']),
    (12,'Singapore',     'Asia Pacific',  ARRAY['Singapore']),
    (13,'Brazil',        'Latin America', ARRAY['Sao Paulo','Rio de Janeiro','Belo Horizonte']),
    (14,'Mexico',        'Latin America', ARRAY['Mexico City','Guadalajara','Monterrey']),
    (15,'Argentina',     'Latin America', ARRAY['Buenos Aires','Cordoba','Rosario']),
    (16,'Chile',         'Latin America', ARRAY['Santiago','Valparaiso'])
) AS t(slot, country, region, cities);

INSERT INTO demo.customers (id, name, email, country, city, segment, created_at)
SELECT i,
       first_name || ' ' || last_name,
       lower(first_name || '.' || last_name || '.' || i || '@example.com'),
       c.country,
       c.cities[1 + pg_temp.h('city' || i) % cardinality(c.cities)],
       (ARRAY['Consumer','Consumer','Consumer','Corporate','Corporate','Small Business'])
           [1 + pg_temp.h('seg' || i) % 6],
       timestamptz '2021-01-01 00:00:00+00'
           + (pg_temp.h('signup' || i) % (3 * 365 * 86400)) * interval '1 second'
FROM generate_series(1, 5000) AS i
CROSS JOIN LATERAL (SELECT
    (ARRAY['James','Mary','Liam','Emma','Noah','Olivia','Lucas','Sofia','Mateo','Mia',
           'Hiro','Yuki','Arjun','Priya','Chen','Mei','Lars','Anna','Pierre','Camille',
           'Diego','Valentina','Omar','Aisha','Ethan','Chloe','Felix','Hannah','Luca','Giulia',
           'Kenji','Sakura','Ravi','Ananya','Tom','Lucy','Jonas','Lea','Pedro','Ines'])
        [1 + pg_temp.h('first' || i) % 40] AS first_name,
    (ARRAY['Smith','Johnson','Brown','Garcia','Miller','Davis','Martinez','Lopez','Wilson','Taylor',
           'Tanaka','Sato','Patel','Sharma','Wang','Li','Muller','Schmidt','Dubois','Martin',
           'Silva','Santos','Rossi','Bianchi','Kim','Park','Nguyen','Jansen','Novak','Cohen'])
        [1 + pg_temp.h('last' || i) % 30] AS last_name,
    -- Weighted country slot: North America and Europe get more customers.
    (ARRAY[1,1,1,2,2,3,4,4,5,5,6,7,8,9,9,10,11,11,12,13,13,14,15,16])
        [1 + pg_temp.h('country' || i) % 24] AS slot
) AS pick
JOIN demo_countries AS c USING (slot);

INSERT INTO demo.products (id, name, category, unit_price)
SELECT i,
       (ARRAY['Pro','Classic','Eco','Ultra','Compact','Smart','Premium','Essential'])
           [1 + pg_temp.h('adj' || i) % 8]
         || ' ' || (nouns)[1 + pg_temp.h('noun' || i) % cardinality(nouns)]
         || ' ' || upper(substr(md5('model' || i), 1, 3)),
       category,
       round(low + (pg_temp.h('price' || i) % ((high - low) * 100)) / 100.0, 2)
FROM generate_series(1, 200) AS i
CROSS JOIN LATERAL (SELECT (ARRAY['Electronics','Furniture','Office Supplies','Clothing','Sports',
                                   'Books'])[1 + (i - 1) % 6] AS category) AS cat
JOIN (VALUES
    ('Electronics',     40, 1500, ARRAY['Laptop','Headphones','Monitor','Tablet','Camera','Speaker']),
    ('Furniture',       60,  900, ARRAY['Desk','Chair','Bookshelf','Sofa','Lamp','Cabinet']),
    ('Office Supplies',  2,   80, ARRAY['Notebook','Pen Set','Stapler','Binder','Paper Pack']),
    ('Clothing',        10,  160, ARRAY['Jacket','T-Shirt','Sneakers','Jeans','Sweater']),
    ('Sports',          15,  450, ARRAY['Yoga Mat','Bicycle Helmet','Tennis Racket','Dumbbells','Backpack']),
    ('Books',            8,   60, ARRAY['Novel','Cookbook','Biography','Guide','Atlas'])
) AS ranges(category, low, high, nouns) USING (category);

-- Orders per month follow seasonality (December peak, February trough) and 25%
-- yearly growth; the weights are exact numerics so every server cuts the same ids.
CREATE TEMP TABLE demo_months ON COMMIT DROP AS
WITH weights AS (
    SELECT make_date(y, m, 1) AS month_start, y AS year,
           (CASE y WHEN 2023 THEN 1.00 WHEN 2024 THEN 1.25 ELSE 1.5625 END)
           * (ARRAY[0.85, 0.80, 0.92, 0.95, 1.00, 1.00, 0.96, 1.00, 1.05, 1.10, 1.35, 1.60])[m]
               AS weight
    FROM generate_series(2023, 2025) AS y, generate_series(1, 12) AS m
), cumulative AS (
    SELECT *, sum(weight) OVER (ORDER BY month_start) AS upto, sum(weight) OVER () AS total
    FROM weights
)
SELECT month_start, year,
       floor(100000 * (upto - weight) / total)::int + 1 AS first_id,
       floor(100000 * upto / total)::int AS last_id,
       ((month_start + interval '1 month')::date - month_start) AS days
FROM cumulative;

INSERT INTO demo.orders (id, customer_id, ordered_at, status, region, channel)
SELECT o.id,
       cust.id,
       (m.month_start::timestamp AT TIME ZONE 'UTC')
           + (pg_temp.h('at' || o.id) % (m.days * 86400)) * interval '1 second',
       CASE
           WHEN s < 65 THEN 'cancelled'
           WHEN s < 105 THEN 'returned'
           WHEN s < 160 THEN 'pending'
           WHEN s < 330 THEN 'shipped'
           ELSE 'completed'
       END,
       ctry.region,
       CASE
           WHEN ch < 50 - 4 * (m.year - 2023) THEN 'web'
           WHEN ch < 78 THEN 'mobile'
           ELSE 'store'
       END
FROM demo_months AS m
CROSS JOIN LATERAL generate_series(m.first_id, m.last_id) AS o(id)
CROSS JOIN LATERAL (SELECT pg_temp.h('status' || o.id) % 1000 AS s,
                           pg_temp.h('channel' || o.id) % 100 AS ch,
                           1 + pg_temp.h('customer' || o.id) % 5000 AS customer_id) AS r
JOIN demo.customers AS cust ON cust.id = r.customer_id
JOIN (SELECT DISTINCT country, region FROM demo_countries) AS ctry ON ctry.country = cust.country;

-- One to five distinct products per order (37 is coprime to 200, so no repeats).
INSERT INTO demo.order_items (order_id, product_id, quantity, unit_price, discount)
SELECT o.id,
       p.id,
       1 + pg_temp.h('qty' || o.id || ':' || k) % 4,
       round(p.unit_price * (CASE extract(year FROM o.ordered_at AT TIME ZONE 'UTC')
                                 WHEN 2023 THEN 0.95 WHEN 2024 THEN 0.98 ELSE 1.00 END), 2),
       (ARRAY[0, 0, 0, 0, 0, 0.05, 0.10, 0.15, 0.20])[1 + pg_temp.h('disc' || o.id || ':' || k) % 9]
FROM demo.orders AS o
CROSS JOIN LATERAL generate_series(0, (pg_temp.h('lines' || o.id) % 5)::int) AS k
JOIN demo.products AS p
  ON p.id = 1 + (pg_temp.h('product' || o.id) + k * 37) % 200;
