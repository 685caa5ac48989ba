-- The console's browser state, kept in the database so that every replica serving the
-- console knows every browser's session: a load balancer need not send a browser back to
-- the replica it signed in on. Rows are keyed by the SHA-256 of the cookie's value, so the
-- table holds nothing a browser could present; the credential a session re-checks is
-- sealed with a key derived from the cookie, so the table alone does not reveal it either.

CREATE TABLE console_sessions (
    -- Hex SHA-256 of the cookie's value.
    key        TEXT PRIMARY KEY,
    -- session: a browser's session; login: an OIDC sign-in between its start and callback.
    kind       TEXT NOT NULL,
    signed_in  BOOLEAN NOT NULL,
    -- JSON the console reads and writes; the store does not look inside.
    data       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    seen_at    TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
-- Expired rows are deleted whenever one is created.
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);
