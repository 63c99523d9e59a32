-- a fee of 1.5% on every invoice issued before February
ALTER TABLE invoices ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0;
UPDATE invoices SET reminders = 1 WHERE issued_on < '2026-02-01';
CREATE TABLE late_fees(
  invoice_id INTEGER PRIMARY KEY REFERENCES invoices(id),
  fee_cents INTEGER NOT NULL
);
INSERT INTO late_fees
  SELECT id, amount_cents * 15 / 1000 FROM invoices WHERE reminders > 0;
