-- each statement's first column must be true, or the deploy is undone
SELECT count(*) = 2 FROM customers WHERE loyalty_pct = 5;
SELECT count(*) = 2 FROM settings WHERE key LIKE 'discount.loyalty.%';
