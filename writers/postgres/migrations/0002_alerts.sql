-- 0002: alerts. What the rules engine of a fleet needs from the database.
--
-- txid: the transaction that wrote the row. The daemon that evaluates the
-- rules reads every row the fleet writes in txid order: rows with a txid
-- below the oldest transaction still running are final, so none is missed
-- and none read twice, whatever order transactions commit in (ingested_at
-- cannot give that: it is the time a transaction started, not committed).
-- Adding the column without a default, then setting the default, rewrites
-- no partition: rows written before this migration keep a NULL txid.
-- BRIN: txid grows with the order rows are written in, so a BRIN index is
-- exact enough and costs almost nothing to keep (docs/postgres.md).
ALTER TABLE ai_usage_events ADD COLUMN txid bigint;
ALTER TABLE ai_usage_events ALTER COLUMN txid SET DEFAULT txid_current();
CREATE INDEX ai_usage_events_txid ON ai_usage_events USING brin (txid) WITH (autosummarize = on);

-- Every alert transition, once: a retried insert adds nothing.
CREATE TABLE ai_alerts (
    at          timestamptz      NOT NULL, -- the evaluation tick, on event time
    rule        text             NOT NULL,
    severity    text             NOT NULL CHECK (severity IN ('warning', 'critical')),
    state       text             NOT NULL CHECK (state IN ('firing', 'resolved')),
    value       double precision,          -- NULL: no value (no data, or under min_count)
    threshold   double precision NOT NULL,
    labels      jsonb            NOT NULL,
    annotations jsonb            NOT NULL DEFAULT '{}',
    fingerprint bigint           NOT NULL, -- the alert's identity: a hash of its labels
    starts_at   timestamptz      NOT NULL,
    recorded_at timestamptz      NOT NULL DEFAULT now(),
    recorded_by text             NOT NULL DEFAULT '',
    PRIMARY KEY (fingerprint, at, state)
);
CREATE INDEX ai_alerts_at ON ai_alerts (at);

-- The rules engine's state beyond the records: the last evaluated tick and
-- the alerts pending or firing. One row, written by the daemon holding the
-- rules lock; the next holder starts from it.
CREATE TABLE tokentail_rules_state (
    id          integer     PRIMARY KEY CHECK (id = 1),
    tick        timestamptz,
    state       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL
);
