-- Foreign keys and secondary indexes of schema `demo`, added after data.sql in the same
-- transaction. Validating a foreign key over the loaded rows is one join; declaring it in
-- schema.sql would fire a check per inserted row (about 6 s of a 10 s load on 2 cores).
-- The names are PostgreSQL's defaults, as when the keys were declared inline.

ALTER TABLE demo.orders
    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES demo.customers(id);
ALTER TABLE demo.order_items
    ADD CONSTRAINT order_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES demo.orders(id),
    ADD CONSTRAINT order_items_product_id_fkey FOREIGN KEY (product_id) REFERENCES demo.products(id);

CREATE INDEX orders_ordered_at_idx ON demo.orders (ordered_at);
CREATE INDEX orders_customer_id_idx ON demo.orders (customer_id);
CREATE INDEX order_items_product_id_idx ON demo.order_items (product_id);
