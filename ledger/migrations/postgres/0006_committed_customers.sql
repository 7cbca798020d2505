-- New or returning is decided by whether a customer has a committed redemption. An index of
-- exactly the committed redemptions' customers answers that by itself (an index-only probe per
-- customer), where the index on customer_id alone needed the rows' states as well.
CREATE INDEX redemptions_customer_committed ON redemptions (customer_id) WHERE state = 'committed';
DROP INDEX redemptions_customer;
