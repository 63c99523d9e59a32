-- exactly what deploy.sql did, undone in reverse order
DROP TABLE late_fees;
ALTER TABLE invoices DROP COLUMN reminders;
