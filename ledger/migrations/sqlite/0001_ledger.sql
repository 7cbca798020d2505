-- The ledger's schema (SQLite). Keep in step with migrations/postgres/0001_ledger.sql:
-- the two differ only in type names and in how event ids are generated.

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every accepted signed edge bundle version, as received (re-verified at start).
CREATE TABLE bundles (
    bundle_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    envelope BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL,
    PRIMARY KEY (bundle_id, version)
);

-- Idempotency claims: one per (operation, key), with the first answer.
CREATE TABLE idempotency (
    op TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (op, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);

-- Usage counters, one row per limited thing (see ledger/README.md, "Counters").
CREATE TABLE counters (
    key TEXT PRIMARY KEY,
    used INTEGER NOT NULL,
    amount INTEGER NOT NULL
);

CREATE TABLE redemptions (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    state TEXT NOT NULL,
    bundle_id TEXT NOT NULL,
    bundle_version INTEGER NOT NULL,
    currency TEXT NOT NULL,
    customer_id TEXT,
    email TEXT,
    channel TEXT,
    ip TEXT,
    new_customer INTEGER NOT NULL,
    subtotal INTEGER NOT NULL,
    discount_total INTEGER NOT NULL,
    tax_total INTEGER NOT NULL,
    total INTEGER NOT NULL,
    cost INTEGER,
    receipt TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    committed_at INTEGER,
    closed_at INTEGER,
    reversal TEXT
);
-- One open (reserved or committed) redemption per order.
CREATE UNIQUE INDEX redemptions_open_order ON redemptions (order_id)
    WHERE state IN ('reserved', 'committed');
CREATE INDEX redemptions_reserved ON redemptions (expires_at) WHERE state = 'reserved';
CREATE INDEX redemptions_committed ON redemptions (committed_at);
CREATE INDEX redemptions_customer ON redemptions (customer_id);

CREATE TABLE redemption_promotions (
    redemption_id TEXT NOT NULL,
    promotion_id TEXT NOT NULL,
    campaign TEXT,
    amount INTEGER NOT NULL,
    code_hash TEXT,
    PRIMARY KEY (redemption_id, promotion_id)
);

-- What a redemption added to which counter, and whether a reversal gives it back.
CREATE TABLE redemption_usage (
    redemption_id TEXT NOT NULL,
    counter_key TEXT NOT NULL,
    uses INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    reversal TEXT NOT NULL,
    PRIMARY KEY (redemption_id, counter_key)
);

-- Every attempt, accepted or refused.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    op TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    redemption_id TEXT,
    order_id TEXT,
    idempotency_key TEXT,
    customer_id TEXT,
    email TEXT,
    ip TEXT,
    channel TEXT,
    codes TEXT,
    promotions TEXT,
    bundle_version INTEGER,
    client_discount INTEGER,
    ledger_discount INTEGER,
    total INTEGER,
    detail TEXT
);
CREATE INDEX events_at ON events (at);
