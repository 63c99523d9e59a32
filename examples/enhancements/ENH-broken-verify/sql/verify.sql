-- the SQL side is fine: this passes, and the deploy commits
SELECT count(*) = 2 FROM late_fees;
