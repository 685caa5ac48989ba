-- Exceptions (approved deviations) created at run time through the API, the CLI or the
-- console, beside those the playbooks and the exceptions file declare. Each names either
-- a resource or a whole account, never both; each expires, so that a deviation is
-- approved again rather than forgotten. A revoked exception is kept, with who revoked it
-- and why, for the record.

CREATE TABLE exceptions (
    -- exc- and random hex: what decisions, the audit and revoke name it by.
    id            TEXT PRIMARY KEY,
    -- The resource's id or ARN; empty when the exception is for a whole account.
    resource      TEXT NOT NULL,
    -- The account; empty when the exception is for one resource.
    account       TEXT NOT NULL,
    -- JSON array of the playbook names it applies to; ["*"] for every playbook.
    playbooks     TEXT NOT NULL,
    reason        TEXT NOT NULL,
    approved_by   TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    -- NULL while the exception has not been revoked.
    revoked_at    TIMESTAMPTZ,
    revoked_by    TEXT NOT NULL DEFAULT '',
    revoke_reason TEXT NOT NULL DEFAULT ''
);
-- The engines reload the exceptions not revoked that have not long expired, every few
-- seconds: the index keeps that cheap however many have expired since.
CREATE INDEX exceptions_expires_at ON exceptions (expires_at);
