-- The console's code lookup reads a code's redemptions by its keyed hash.
CREATE INDEX redemption_promotions_code ON redemption_promotions (code_hash) WHERE code_hash IS NOT NULL;
