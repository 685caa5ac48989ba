-- Messages an intake could not read as events, kept whole so that none is lost: an operator
-- reads the reasons, fixes the sender or the parser, and delivers the body again.

CREATE TABLE dead_letters (
    via         TEXT NOT NULL,
    -- Where the message came from: a queue URL, an event source ARN, a function ARN.
    source      TEXT NOT NULL,
    -- The message's id at its source; a redelivered message is recorded once.
    message_id  TEXT NOT NULL,
    -- JSON array of strings, one per rejected value, each naming its position.
    reasons     TEXT NOT NULL,
    -- Events read from the same message and stored: a dead letter may be part of a message.
    events      INTEGER NOT NULL,
    -- The message body as received, byte for byte.
    body        BLOB NOT NULL,
    received_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (via, source, message_id)
);
CREATE INDEX dead_letters_recorded ON dead_letters (recorded_at);
