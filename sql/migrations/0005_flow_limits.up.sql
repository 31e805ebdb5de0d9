-- Flow control across processes (docs/flow-control.md): debounce per kind, a concurrency
-- cap and a rate
-- limit per kind (delta_controller), per namespace (delta_namespace) and per job queue
-- (delta_queue). Each scope keeps two sets of values:
--   default_*   written by the first process that registers the scope with this schema
--               (limits_registered_at); later processes with other code defaults log a
--               warning and keep the stored value;
--   override_*  set by an operator (delta::Admin::set_*_limits, `delta ... limit`) while
--               limits_overridden_at is set; cleared, the default is in force again.
-- max_concurrency, rate_count and rate_per are the values in force. NULL: no limit.
-- rate_tat is the rate limiter's state: the earliest time the next work may start (a
-- generic cell rate algorithm: starts are spaced rate_per / rate_count apart).

-- Debounce (ObjectSettings::debounce): a new or changed resource of the kind is due only
-- once this long has passed without a newer change. NULL: at once.
ALTER TABLE /* schema */delta_controller
  ADD COLUMN debounce interval,
  ADD COLUMN default_max_concurrency integer,
  ADD COLUMN default_rate_count integer,
  ADD COLUMN default_rate_per interval,
  ADD COLUMN limits_registered_at timestamptz,
  ADD COLUMN override_max_concurrency integer,
  ADD COLUMN override_rate_count integer,
  ADD COLUMN override_rate_per interval,
  ADD COLUMN limits_overridden_at timestamptz,
  ADD COLUMN max_concurrency integer GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_max_concurrency
         ELSE override_max_concurrency END) STORED,
  ADD COLUMN rate_count integer GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_rate_count
         ELSE override_rate_count END) STORED,
  ADD COLUMN rate_per interval GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_rate_per
         ELSE override_rate_per END) STORED,
  ADD COLUMN rate_tat timestamptz,
  ADD CONSTRAINT delta_controller_limits_valid CHECK (
    default_max_concurrency > 0 AND override_max_concurrency > 0
    AND default_rate_count > 0 AND override_rate_count > 0
    AND default_rate_per >= interval '1 millisecond'
    AND override_rate_per >= interval '1 millisecond'
    AND (default_rate_count IS NULL) = (default_rate_per IS NULL)
    AND (override_rate_count IS NULL) = (override_rate_per IS NULL)),
  ADD CONSTRAINT delta_controller_debounce_non_negative CHECK (debounce >= interval '0');

ALTER TABLE /* schema */delta_namespace
  ADD COLUMN default_max_concurrency integer,
  ADD COLUMN default_rate_count integer,
  ADD COLUMN default_rate_per interval,
  ADD COLUMN limits_registered_at timestamptz,
  ADD COLUMN override_max_concurrency integer,
  ADD COLUMN override_rate_count integer,
  ADD COLUMN override_rate_per interval,
  ADD COLUMN limits_overridden_at timestamptz,
  ADD COLUMN max_concurrency integer GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_max_concurrency
         ELSE override_max_concurrency END) STORED,
  ADD COLUMN rate_count integer GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_rate_count
         ELSE override_rate_count END) STORED,
  ADD COLUMN rate_per interval GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_rate_per
         ELSE override_rate_per END) STORED,
  ADD COLUMN rate_tat timestamptz,
  ADD CONSTRAINT delta_namespace_limits_valid CHECK (
    default_max_concurrency > 0 AND override_max_concurrency > 0
    AND default_rate_count > 0 AND override_rate_count > 0
    AND default_rate_per >= interval '1 millisecond'
    AND override_rate_per >= interval '1 millisecond'
    AND (default_rate_count IS NULL) = (default_rate_per IS NULL)
    AND (override_rate_count IS NULL) = (override_rate_per IS NULL));

ALTER TABLE /* schema */delta_queue
  ADD COLUMN default_max_concurrency integer,
  ADD COLUMN default_rate_count integer,
  ADD COLUMN default_rate_per interval,
  ADD COLUMN limits_registered_at timestamptz,
  ADD COLUMN override_max_concurrency integer,
  ADD COLUMN override_rate_count integer,
  ADD COLUMN override_rate_per interval,
  ADD COLUMN limits_overridden_at timestamptz,
  ADD COLUMN max_concurrency integer GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_max_concurrency
         ELSE override_max_concurrency END) STORED,
  ADD COLUMN rate_count integer GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_rate_count
         ELSE override_rate_count END) STORED,
  ADD COLUMN rate_per interval GENERATED ALWAYS AS (
    CASE WHEN limits_overridden_at IS NULL THEN default_rate_per
         ELSE override_rate_per END) STORED,
  ADD COLUMN rate_tat timestamptz,
  ADD CONSTRAINT delta_queue_limits_valid CHECK (
    default_max_concurrency > 0 AND override_max_concurrency > 0
    AND default_rate_count > 0 AND override_rate_count > 0
    AND default_rate_per >= interval '1 millisecond'
    AND override_rate_per >= interval '1 millisecond'
    AND (default_rate_count IS NULL) = (default_rate_per IS NULL)
    AND (override_rate_count IS NULL) = (override_rate_per IS NULL));

COMMENT ON COLUMN /* schema */delta_controller.max_concurrency IS
  'In force: at most this many resources of the kind pending (claimed) at once across every process; NULL: no cap.';
COMMENT ON COLUMN /* schema */delta_controller.rate_count IS
  'In force: at most rate_count work starts of the kind per rate_per across every process; NULL: no limit.';
COMMENT ON COLUMN /* schema */delta_namespace.max_concurrency IS
  'In force: at most this many resources of the namespace pending at once across every process; NULL: no cap.';
COMMENT ON COLUMN /* schema */delta_namespace.rate_count IS
  'In force: at most rate_count work starts in the namespace per rate_per across every process; NULL: no limit.';
COMMENT ON COLUMN /* schema */delta_queue.max_concurrency IS
  'In force: at most this many jobs of the queue running at once across every process (QueueConfig::global_max_workers); NULL: no cap.';
COMMENT ON COLUMN /* schema */delta_queue.rate_count IS
  'In force: at most rate_count job starts of the queue per rate_per across every process; NULL: no limit.';
