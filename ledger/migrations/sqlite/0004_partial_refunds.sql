-- Partial refunds (ledger/README.md, "Reverse"): what has been refunded of a redemption, what
-- each counter has been given back so far (so that the last refund gives back the exact rest),
-- and every refund, with the lines it named.
ALTER TABLE redemptions ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE redemption_usage ADD COLUMN returned_uses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE redemption_usage ADD COLUMN returned_amount INTEGER NOT NULL DEFAULT 0;
CREATE TABLE redemption_refunds (
    redemption_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    lines TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (redemption_id, n)
);
