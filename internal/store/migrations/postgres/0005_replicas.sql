-- The engines (replicas) sharing this database, each under its job queue client's id. A
-- replica refreshes last_seen every few seconds; one not seen for a while, or stopped, is
-- gone, and the step jobs it was running are handed to the replicas still here instead of
-- waiting for the job queue's own hour-long rescue. SQLite has one server and keeps the
-- table only so that both schemas stay the same.

CREATE TABLE replicas (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    -- Set by a replica that stops cleanly: what it leaves running is taken over at once.
    stopped_at TIMESTAMPTZ
);
CREATE INDEX replicas_last_seen ON replicas (last_seen);
