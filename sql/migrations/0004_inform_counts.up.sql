-- What the last finished informer run of a kind did (delta::Admin::list_controllers,
-- `delta controllers list`): how many objects the informer emitted and what writing them
-- did. NULL until a run finishes; a failed run records what it wrote before it failed.
ALTER TABLE /* schema */delta_controller
  ADD COLUMN last_inform_emitted bigint,
  ADD COLUMN last_inform_inserted bigint,
  ADD COLUMN last_inform_changed bigint,
  ADD COLUMN last_inform_unchanged bigint,
  ADD COLUMN last_inform_stale bigint,
  ADD COLUMN last_inform_skipped_deleted bigint;

COMMENT ON COLUMN /* schema */delta_controller.last_inform_emitted IS
  'Objects the last finished informer run emitted.';
COMMENT ON COLUMN /* schema */delta_controller.last_inform_inserted IS
  'Of those, new resources the run inserted.';
COMMENT ON COLUMN /* schema */delta_controller.last_inform_changed IS
  'Of those, stored resources whose content changed (a new generation).';
COMMENT ON COLUMN /* schema */delta_controller.last_inform_unchanged IS
  'Of those, stored resources whose content was the same.';
COMMENT ON COLUMN /* schema */delta_controller.last_inform_stale IS
  'Of those, objects older than the stored version (not written).';
COMMENT ON COLUMN /* schema */delta_controller.last_inform_skipped_deleted IS
  'Of those, deleted resources the run did not bring back.';
