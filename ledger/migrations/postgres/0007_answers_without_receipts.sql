-- An answer that shows a redemption embeds its receipt (the evaluator's JSON, about 5 KB), which
-- the redemption row already keeps, unchanged for good. The idempotency row now keeps such an
-- answer without it: `receipt_of` names the redemption, `receipt_at` the byte where the receipt
-- goes back on a replay, byte for byte. Rows written before keep the whole answer (both NULL).
ALTER TABLE idempotency ADD COLUMN receipt_of TEXT;
ALTER TABLE idempotency ADD COLUMN receipt_at BIGINT;
