-- customers of five years and more get 5% off
ALTER TABLE customers ADD COLUMN loyalty_pct INTEGER NOT NULL DEFAULT 0;
UPDATE customers SET loyalty_pct = 5 WHERE customer_since < '2021-01-01';
INSERT INTO settings VALUES ('discount.loyalty.pct', '5'),
                            ('discount.loyalty.min-years', '5');
