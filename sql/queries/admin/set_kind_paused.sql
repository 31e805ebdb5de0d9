-- Pauses ($2 true) or resumes kind $1: a paused kind is neither claimed nor informed
-- periodically by any process. Pausing a paused kind keeps the time it was paused.
INSERT INTO /* schema */delta_controller AS k (kind, paused_at)
VALUES ($1, CASE WHEN $2::boolean THEN now() END)
ON CONFLICT (kind) DO UPDATE
SET paused_at = CASE WHEN $2::boolean THEN coalesce(k.paused_at, now()) END, updated_at = now()
