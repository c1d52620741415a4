-- Shared fixed-window counters for the postgres rate-limit backend. UNLOGGED:
-- losing counters in a crash is harmless and writes stay cheap.
CREATE UNLOGGED TABLE rate_limits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        int NOT NULL,
    PRIMARY KEY (key, window_start)
);
