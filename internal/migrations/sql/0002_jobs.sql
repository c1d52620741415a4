-- The worker's queue: claimed with FOR UPDATE SKIP LOCKED, so any number of
-- workers can poll it without taking the same job twice.
CREATE TABLE jobs (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    ship_id     bigint REFERENCES ships (id) ON DELETE CASCADE,
    status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done', 'failed')),
    attempts    int NOT NULL DEFAULT 0,
    last_error  text,
    run_at      timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX jobs_queued ON jobs (run_at, id) WHERE status = 'queued';
