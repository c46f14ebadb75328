-- Demo data schema `demo` (the names are a contract: tests and evaluations use them).
-- Loaded by `python -m dashboard load-demo` inside one transaction, after
-- `DROP SCHEMA IF EXISTS demo CASCADE`: this file, then data.sql, then keys.sql (the
-- foreign keys and secondary indexes, added once the rows are in: one check per key
-- instead of a trigger per inserted row, which took most of the load's time).

CREATE SCHEMA demo;

CREATE TABLE demo.customers (
    id integer PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL UNIQUE,
    country text NOT NULL,
    city text NOT NULL,
    segment text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE demo.products (
    id integer PRIMARY KEY,
    name text NOT NULL,
    category text NOT NULL,
    unit_price numeric(10,2) NOT NULL
);

CREATE TABLE demo.orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL,
    ordered_at timestamptz NOT NULL,
    status text NOT NULL,
    region text NOT NULL,
    channel text NOT NULL
);

CREATE TABLE demo.order_items (
    order_id integer NOT NULL,
    product_id integer NOT NULL,
    quantity integer NOT NULL,
    unit_price numeric(10,2) NOT NULL,
    discount numeric(4,3) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

COMMENT ON TABLE demo.customers IS 'Customers of the store, one row per customer account. A customer''s country and segment come from this table.';
COMMENT ON COLUMN demo.customers.id IS 'Customer identifier.';
COMMENT ON COLUMN demo.customers.name IS 'Customer full name.';
COMMENT ON COLUMN demo.customers.email IS 'Customer e-mail address (unique).';
COMMENT ON COLUMN demo.customers.country IS 'Country where the customer lives, e.g. United States, Germany, Japan, Brazil.';
COMMENT ON COLUMN demo.customers.city IS 'City where the customer lives.';
COMMENT ON COLUMN demo.customers.segment IS 'Customer segment: Consumer, Corporate or Small Business.';
COMMENT ON COLUMN demo.customers.created_at IS 'When the customer account was created (signup date).';

COMMENT ON TABLE demo.products IS 'Product catalog: 200 products in six categories.';
COMMENT ON COLUMN demo.products.id IS 'Product identifier.';
COMMENT ON COLUMN demo.products.name IS 'Product name.';
COMMENT ON COLUMN demo.products.category IS 'Product category: Electronics, Furniture, Office Supplies, Clothing, Sports or Books.';
COMMENT ON COLUMN demo.products.unit_price IS 'Current list price of one unit, in USD.';

COMMENT ON TABLE demo.orders IS 'Sales orders, one row per order (2023-01-01 to 2025-12-31). Order count = count of orders (all statuses unless narrowed). Revenue = sum(order_items.quantity * order_items.unit_price * (1 - order_items.discount)) over orders whose status is not ''cancelled'' (returned orders count as revenue). Average order value = revenue / number of non-cancelled orders. An order''s region and channel come from this table.';
COMMENT ON COLUMN demo.orders.id IS 'Order identifier (order number).';
COMMENT ON COLUMN demo.orders.customer_id IS 'The customer who placed the order (customers.id).';
COMMENT ON COLUMN demo.orders.ordered_at IS 'When the order was placed (order date).';
COMMENT ON COLUMN demo.orders.status IS 'Order status: completed, shipped, pending, cancelled or returned. Cancelled orders do not count as revenue.';
COMMENT ON COLUMN demo.orders.region IS 'Sales region of the order: North America, Europe, Asia Pacific or Latin America.';
COMMENT ON COLUMN demo.orders.channel IS 'Sales channel of the order: web, mobile or store.';

COMMENT ON TABLE demo.order_items IS 'Order lines: one row per product in an order. Line revenue = quantity * unit_price * (1 - discount); revenue counts only orders whose status is not ''cancelled''.';
COMMENT ON COLUMN demo.order_items.order_id IS 'The order this line belongs to (orders.id).';
COMMENT ON COLUMN demo.order_items.product_id IS 'The product sold (products.id).';
COMMENT ON COLUMN demo.order_items.quantity IS 'Number of units sold on this line.';
COMMENT ON COLUMN demo.order_items.unit_price IS 'Price of one unit at the time of the order, in USD, before discount.';
COMMENT ON COLUMN demo.order_items.discount IS 'Discount rate on the line, as a fraction from 0 to 1 (0.100 = 10% off).';
