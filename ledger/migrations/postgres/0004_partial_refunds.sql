-- Partial refunds (ledger/README.md, "Reverse"): what has been refunded of a redemption, what
-- each counter has been given back so far (so that the last refund gives back the exact rest),
-- and every refund, with the lines it named.
ALTER TABLE redemptions ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE redemption_usage ADD COLUMN returned_uses BIGINT NOT NULL DEFAULT 0;
ALTER TABLE redemption_usage ADD COLUMN returned_amount BIGINT NOT NULL DEFAULT 0;
CREATE TABLE redemption_refunds (
    redemption_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    lines TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (redemption_id, n)
);
