-- Firebreak's own tables. River's tables are migrated separately, by River's migrator.

CREATE TABLE events (
    id                 TEXT PRIMARY KEY,
    finding_id         TEXT,
    -- The finding's updated time as the detector wrote it (RFC 3339); text, so that identity
    -- does not depend on how a database rounds timestamps.
    finding_updated_at TEXT,
    source             TEXT NOT NULL,
    type               TEXT NOT NULL,
    account            TEXT NOT NULL,
    region             TEXT NOT NULL,
    event_time         TIMESTAMPTZ,
    received_at        TIMESTAMPTZ NOT NULL,
    via                TEXT NOT NULL,
    normalised         TEXT NOT NULL,
    raw                TEXT NOT NULL
);
CREATE UNIQUE INDEX events_finding ON events (finding_id, finding_updated_at) WHERE finding_id IS NOT NULL;

CREATE TABLE incidents (
    id             TEXT PRIMARY KEY,
    playbook       TEXT NOT NULL,
    target_kind    TEXT NOT NULL,
    target_id      TEXT NOT NULL,
    target_account TEXT NOT NULL,
    target_region  TEXT NOT NULL,
    target         TEXT NOT NULL,
    state          TEXT NOT NULL,
    sensitivity    TEXT,
    requested_by   TEXT NOT NULL,
    event_id       TEXT NOT NULL REFERENCES events (id),
    decision       TEXT NOT NULL,
    join_key       TEXT NOT NULL,
    join_until     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX incidents_join ON incidents (join_key, join_until);
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_state ON incidents (state);

CREATE TABLE incident_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    event_id    TEXT NOT NULL REFERENCES events (id),
    joined_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, event_id)
);

CREATE TABLE steps (
    incident_id       TEXT NOT NULL REFERENCES incidents (id),
    idx               INTEGER NOT NULL,
    action            TEXT NOT NULL,
    params            TEXT NOT NULL,
    continue_on_error BOOLEAN NOT NULL,
    status            TEXT NOT NULL,
    reason            TEXT NOT NULL,
    class             TEXT NOT NULL,
    message           TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    prior             TEXT,
    evidence          TEXT NOT NULL,
    request_ids       TEXT NOT NULL,
    reversible        BOOLEAN NOT NULL,
    started_at        TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ,
    approval          TEXT NOT NULL,
    approval_reason   TEXT NOT NULL,
    approver          TEXT NOT NULL,
    approval_comment  TEXT NOT NULL,
    approved_at       TIMESTAMPTZ,
    release_status    TEXT NOT NULL,
    release_reason    TEXT NOT NULL,
    released_at       TIMESTAMPTZ,
    PRIMARY KEY (incident_id, idx)
);

CREATE TABLE audit (
    seq        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    source     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    subject    TEXT NOT NULL,
    -- Canonical JSON as hashed; text rather than a JSON type so that the bytes are kept.
    data       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
