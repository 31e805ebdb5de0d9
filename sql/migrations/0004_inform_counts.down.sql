ALTER TABLE /* schema */delta_controller
  DROP COLUMN last_inform_emitted,
  DROP COLUMN last_inform_inserted,
  DROP COLUMN last_inform_changed,
  DROP COLUMN last_inform_unchanged,
  DROP COLUMN last_inform_stale,
  DROP COLUMN last_inform_skipped_deleted;
