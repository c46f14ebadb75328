-- 002: additive only. Widget metadata used by the dashboard, and an owner-only table
-- for the reader role's generated password (the reader has no privilege on it).
ALTER TABLE widgets
    ADD COLUMN title TEXT,
    ADD COLUMN updated_at TIMESTAMPTZ DEFAULT NOW(),
    ADD COLUMN position INTEGER,
    ADD COLUMN generation JSONB;

CREATE INDEX widgets_user_id_idx ON widgets (user_id, position, id);

CREATE TABLE app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
