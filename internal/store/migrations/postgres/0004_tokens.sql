-- API tokens for the /v1 API. Only each token's SHA-256 is kept: a stolen database yields
-- no token that works, and a lost token is replaced, never recovered.

CREATE TABLE api_tokens (
    -- A public name for the token (tok-...), what audit records and approvals name.
    id         TEXT PRIMARY KEY,
    -- Hex SHA-256 of the token as presented.
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    -- JSON array of account ids the token may act in; empty means every account.
    accounts   TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    -- NULL: the token does not expire.
    expires_at TIMESTAMPTZ
);
