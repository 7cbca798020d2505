-- The console's own records (postgres). Keep in step with the other backend's file: the two differ
-- only in type names. Terms, approvals, code sets and published versions are not here: they
-- live in the project folder the CLI uses too (see docs/DESIGN.md, "The console").

-- One-use sign-in challenges: a key proves itself by signing one within two minutes.
CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    text TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX challenges_expiry ON challenges (expires_at);

-- Sessions: the cookie holds a random token; only its SHA-256 is kept.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Where each draft stands in review (a draft file without a row is a draft).
CREATE TABLE reviews (
    promotion TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- The audit log: every action, each entry chained to the previous one by SHA-256. The head
-- row serializes appends on both backends (it is updated in the appending transaction).
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    promotion TEXT,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_promotion ON audit (promotion, seq);
