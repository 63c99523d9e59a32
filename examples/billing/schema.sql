-- The billing database: what examples/demo.sh loads into the model and
-- the production copy (sqlite3 billing.db < schema.sql).
CREATE TABLE customers(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  customer_since TEXT NOT NULL
);
CREATE TABLE invoices(
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  amount_cents INTEGER NOT NULL,
  issued_on TEXT NOT NULL
);
CREATE TABLE settings(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO customers VALUES
  (1, 'Ann Archer', '2015-03-01'),
  (2, 'Bert Baker', '2019-11-12'),
  (3, 'Cleo Carter', '2024-06-30');
INSERT INTO invoices VALUES
  (101, 1, 12000, '2026-01-31'),
  (102, 2, 4550, '2026-01-31'),
  (103, 3, 980, '2026-02-28'),
  (104, 1, 15000, '2026-02-28');
INSERT INTO settings VALUES
  ('invoice.due-days', '30'),
  ('invoice.footer', 'Thank you for your business.');
