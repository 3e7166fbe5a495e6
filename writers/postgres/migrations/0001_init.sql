-- 0001: the events table (range-partitioned by day on occurred_at) and the rejects table.
--
-- One row per LLM call, ever: the identity is (occurred_at, event_id). A
-- partitioned table's unique key must contain the partition key, so the
-- primary key leads with occurred_at; that B-tree is also the time index, and
-- it is the only index: see docs/postgres.md for the measurements behind that.
-- Partitions (ai_usage_events_pYYYYMMDD, one per UTC day) are created on
-- demand by the writer.
CREATE TABLE ai_usage_events (
    event_id            text             NOT NULL,
    occurred_at         timestamptz      NOT NULL,
    ingested_at         timestamptz      NOT NULL DEFAULT now(),
    source              text             NOT NULL,
    user_id             text,
    feature             text,
    provider            text,
    model               text             NOT NULL,
    input_tokens        bigint           NOT NULL CHECK (input_tokens >= 0),
    cached_input_tokens bigint           NOT NULL CHECK (cached_input_tokens >= 0),
    output_tokens       bigint           NOT NULL CHECK (output_tokens >= 0),
    total_tokens        bigint           NOT NULL CHECK (total_tokens >= 0),
    cost_usd            numeric          NOT NULL CHECK (cost_usd >= 0),
    cost_source         text             NOT NULL CHECK (cost_source IN ('log', 'pricing', 'unpriced')),
    duration_ms         double precision,
    success             boolean          NOT NULL,
    error_type          text,
    attributes          jsonb            NOT NULL DEFAULT '{}',
    PRIMARY KEY (occurred_at, event_id)
) PARTITION BY RANGE (occurred_at);

-- Lines that never became a row: parse rejects and rows the server refused.
-- Rejects are rare, so the table is not partitioned; reject_id makes
-- re-reading a file add nothing.
CREATE TABLE ai_usage_rejects (
    reject_id   text        PRIMARY KEY,
    rejected_at timestamptz NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    source      text        NOT NULL,
    file        text,
    byte_offset bigint      NOT NULL,
    reason      text        NOT NULL,
    detail      text,
    raw         text        NOT NULL
);

CREATE INDEX ai_usage_rejects_rejected_at ON ai_usage_rejects (rejected_at);
