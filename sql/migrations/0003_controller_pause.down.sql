ALTER TABLE /* schema */delta_controller DROP COLUMN paused_at;
