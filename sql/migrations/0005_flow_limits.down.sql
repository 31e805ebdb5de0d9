ALTER TABLE /* schema */delta_controller
  DROP COLUMN debounce,
  DROP COLUMN max_concurrency, DROP COLUMN rate_count, DROP COLUMN rate_per,
  DROP COLUMN default_max_concurrency, DROP COLUMN default_rate_count,
  DROP COLUMN default_rate_per, DROP COLUMN limits_registered_at,
  DROP COLUMN override_max_concurrency, DROP COLUMN override_rate_count,
  DROP COLUMN override_rate_per, DROP COLUMN limits_overridden_at, DROP COLUMN rate_tat;
ALTER TABLE /* schema */delta_namespace
  DROP COLUMN max_concurrency, DROP COLUMN rate_count, DROP COLUMN rate_per,
  DROP COLUMN default_max_concurrency, DROP COLUMN default_rate_count,
  DROP COLUMN default_rate_per, DROP COLUMN limits_registered_at,
  DROP COLUMN override_max_concurrency, DROP COLUMN override_rate_count,
  DROP COLUMN override_rate_per, DROP COLUMN limits_overridden_at, DROP COLUMN rate_tat;
ALTER TABLE /* schema */delta_queue
  DROP COLUMN max_concurrency, DROP COLUMN rate_count, DROP COLUMN rate_per,
  DROP COLUMN default_max_concurrency, DROP COLUMN default_rate_count,
  DROP COLUMN default_rate_per, DROP COLUMN limits_registered_at,
  DROP COLUMN override_max_concurrency, DROP COLUMN override_rate_count,
  DROP COLUMN override_rate_per, DROP COLUMN limits_overridden_at, DROP COLUMN rate_tat;
