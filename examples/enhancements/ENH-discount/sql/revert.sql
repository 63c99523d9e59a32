-- exactly what deploy.sql did, undone in reverse order
DELETE FROM settings WHERE key IN ('discount.loyalty.pct',
                                   'discount.loyalty.min-years');
ALTER TABLE customers DROP COLUMN loyalty_pct;
