-- The limits the last redemption that took a counter declared for it: a batch of redemptions
-- adds its summed uses and amounts to many counters in one conditional upsert, which can only
-- compare a row with values of the row being inserted (`excluded`). See DESIGN.md §4.
ALTER TABLE counters ADD COLUMN max_used INTEGER;
ALTER TABLE counters ADD COLUMN max_amount INTEGER;
