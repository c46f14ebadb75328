-- A small music store in schema `public` (shaped like the public Chinook sample),
-- used to check that the offline planner works on a schema it was not written for.
-- Deterministic: every value derives from the row number. Some columns carry comments,
-- some do not, and no comment defines revenue (the planner must find it from names).

CREATE TABLE artist (
    artist_id integer PRIMARY KEY,
    name text NOT NULL
);
CREATE TABLE album (
    album_id integer PRIMARY KEY,
    title text NOT NULL,
    artist_id integer NOT NULL REFERENCES artist(artist_id)
);
CREATE TABLE genre (
    genre_id integer PRIMARY KEY,
    name text NOT NULL
);
CREATE TABLE media_type (
    media_type_id integer PRIMARY KEY,
    name text NOT NULL
);
CREATE TABLE track (
    track_id integer PRIMARY KEY,
    name text NOT NULL,
    album_id integer NOT NULL REFERENCES album(album_id),
    media_type_id integer NOT NULL REFERENCES media_type(media_type_id),
    genre_id integer NOT NULL REFERENCES genre(genre_id),
    composer text,
    milliseconds integer NOT NULL,
    bytes integer NOT NULL,
    unit_price numeric(10,2) NOT NULL
);
CREATE TABLE employee (
    employee_id integer PRIMARY KEY,
    last_name text NOT NULL,
    first_name text NOT NULL,
    title text NOT NULL,
    reports_to integer REFERENCES employee(employee_id),
    hire_date timestamp NOT NULL,
    city text NOT NULL,
    country text NOT NULL
);
CREATE TABLE customer (
    customer_id integer PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    company text,
    city text NOT NULL,
    country text NOT NULL,
    email text NOT NULL,
    support_rep_id integer REFERENCES employee(employee_id)
);
CREATE TABLE invoice (
    invoice_id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customer(customer_id),
    invoice_date timestamp NOT NULL,
    billing_city text NOT NULL,
    billing_country text NOT NULL,
    total numeric(10,2) NOT NULL
);
CREATE TABLE invoice_line (
    invoice_line_id integer PRIMARY KEY,
    invoice_id integer NOT NULL REFERENCES invoice(invoice_id),
    track_id integer NOT NULL REFERENCES track(track_id),
    unit_price numeric(10,2) NOT NULL,
    quantity integer NOT NULL
);

COMMENT ON TABLE artist IS 'Recording artists and bands.';
COMMENT ON TABLE album IS 'Albums, each by one artist.';
COMMENT ON TABLE genre IS 'Music genres such as Rock, Jazz or Metal.';
COMMENT ON TABLE track IS 'Tracks (songs) for sale, one row per track.';
COMMENT ON COLUMN track.milliseconds IS 'Length of the track in milliseconds.';
COMMENT ON COLUMN track.unit_price IS 'List price of the track in USD.';
COMMENT ON TABLE customer IS 'Store customers; support_rep_id is the employee who looks after them.';
COMMENT ON TABLE invoice IS 'Sales invoices, one per purchase.';
COMMENT ON COLUMN invoice.total IS 'Invoice total in USD (sum of its lines).';
COMMENT ON COLUMN invoice.invoice_date IS 'When the purchase was made (invoice date).';
COMMENT ON TABLE invoice_line IS 'Invoice lines: one row per track bought.';

INSERT INTO artist
SELECT i, (ARRAY['AC/DC', 'Miles Davis', 'Iron Maiden', 'Norah Jones', 'Metallica',
                 'Buddy Guy', 'Yo-Yo Ma', 'Shakira', 'Queen', 'Nirvana', 'Adele',
                 'John Coltrane', 'Slayer', 'B.B. King', 'Gilberto Gil', 'U2', 'Madonna',
                 'Ella Fitzgerald', 'Muddy Waters', 'Caetano Veloso'])[i]
FROM generate_series(1, 20) AS i;

INSERT INTO album
SELECT i, 'Album ' || i, 1 + (i * 7) % 20 FROM generate_series(1, 40) AS i;

INSERT INTO genre
SELECT i, (ARRAY['Rock', 'Jazz', 'Metal', 'Pop', 'Blues', 'Classical', 'Latin'])[i]
FROM generate_series(1, 7) AS i;

INSERT INTO media_type
SELECT i, (ARRAY['MPEG audio file', 'AAC audio file', 'Protected AAC audio file'])[i]
FROM generate_series(1, 3) AS i;

INSERT INTO track
SELECT i, 'Track ' || i, 1 + (i * 13) % 40, 1 + (i * 5) % 3, 1 + (i * 11) % 7,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 'Composer ' || (1 + i % 25) END,
       120000 + (i * 7919) % 300000, 2000000 + (i * 104729) % 9000000,
       CASE WHEN i % 10 = 0 THEN 1.99 ELSE 0.99 END
FROM generate_series(1, 400) AS i;

INSERT INTO employee VALUES
    (1, 'Adams', 'Andrew', 'General Manager', NULL, '2019-08-14', 'Edmonton', 'Canada'),
    (2, 'Edwards', 'Nancy', 'Sales Manager', 1, '2019-05-01', 'Calgary', 'Canada'),
    (3, 'Peacock', 'Jane', 'Sales Support Agent', 2, '2020-04-01', 'Calgary', 'Canada'),
    (4, 'Park', 'Margaret', 'Sales Support Agent', 2, '2020-05-03', 'Calgary', 'Canada'),
    (5, 'Johnson', 'Steve', 'Sales Support Agent', 2, '2021-10-17', 'Calgary', 'Canada'),
    (6, 'Mitchell', 'Michael', 'IT Manager', 1, '2020-10-17', 'Calgary', 'Canada'),
    (7, 'King', 'Robert', 'IT Staff', 6, '2021-01-02', 'Lethbridge', 'Canada'),
    (8, 'Callahan', 'Laura', 'IT Staff', 6, '2021-03-04', 'Lethbridge', 'Canada');

INSERT INTO customer
SELECT i, 'First' || i, 'Last' || i,
       CASE WHEN i % 3 = 0 THEN 'Company ' || i END,
       (ARRAY['Sao Paulo', 'Toronto', 'Berlin', 'Paris', 'New York', 'London', 'Lisbon',
              'Prague'])[1 + i % 8],
       (ARRAY['Brazil', 'Canada', 'Germany', 'France', 'USA', 'United Kingdom', 'Portugal',
              'Czech Republic'])[1 + i % 8],
       'customer' || i || '@example.com', 3 + i % 3
FROM generate_series(1, 60) AS i;

INSERT INTO invoice
SELECT i, 1 + (i * 17) % 60,
       timestamp '2021-01-01' + ((i * 2923) % 1461) * interval '1 day' + (i % 24) * interval '1 hour',
       '', '', 0
FROM generate_series(1, 500) AS i;
INSERT INTO invoice_line
SELECT i, 1 + (i - 1) / 4, 1 + (i * 37) % 400, 0, 1 + (i % 5 = 0)::int
FROM generate_series(1, 2000) AS i;
UPDATE invoice_line l SET unit_price = t.unit_price FROM track t WHERE t.track_id = l.track_id;

UPDATE invoice v SET billing_city = c.city, billing_country = c.country
FROM customer c WHERE c.customer_id = v.customer_id;
UPDATE invoice v SET total = s.total
FROM (SELECT invoice_id, sum(unit_price * quantity) AS total FROM invoice_line
      GROUP BY invoice_id) s
WHERE s.invoice_id = v.invoice_id;

ANALYZE;
