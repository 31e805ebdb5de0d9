-- A kind can be paused (delta::Admin::pause_kind, `delta controllers pause`): while
-- paused_at is set no process claims its resources and the leader schedules no periodic
-- inform of it; informs are still stored.
ALTER TABLE /* schema */delta_controller ADD COLUMN paused_at timestamptz;

COMMENT ON COLUMN /* schema */delta_controller.paused_at IS
  'Set: the kind is paused (not claimed, no periodic informs) since then.';
