CREATE TABLE ships (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'commissioned')),
    created_at timestamptz NOT NULL DEFAULT now()
);
