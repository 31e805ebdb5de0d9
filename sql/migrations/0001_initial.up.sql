-- delta's initial schema: resources, namespaces, controllers and the job queue.
--
-- The schema placeholder comment before every table, type and function below is replaced
-- by the quoted schema name and a dot when the migration is rendered, so every one of them
-- is schema-qualified (see docs/schema.md). Names of constraints and indexes are stable:
-- code matches on them (e.g. DatabaseError::constraint()).

-- CREATE SCHEMA IF NOT EXISTS, except that it does not need the CREATE privilege on the
-- database when the schema already exists (an operator may create it for a
-- least-privileged role).
DO $$
BEGIN
  IF to_regnamespace('/* schema_name */') IS NULL THEN
    CREATE SCHEMA /* schema_name */;
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Resources
-- ---------------------------------------------------------------------------------------

CREATE TYPE /* schema */resource_state AS ENUM (
  'unknown',    -- reserved
  'scheduled',  -- waiting for run_at, then runnable
  'pending',    -- claimed: a worker holds the lease
  'synced',     -- the last work succeeded for the current generation
  'failed',     -- the last attempt failed; runnable again at run_at
  'degraded',   -- failed max_attempts times; needs a retry by hand
  'expired',    -- synced longer than the namespace's expiry TTL; runnable
  'deleted'     -- soft-deleted; removed by the cleaner after the retention period
);

COMMENT ON TYPE /* schema */resource_state IS
  'State of a delta_resource row; runnable states are scheduled, failed and expired.';

CREATE TABLE /* schema */delta_resource (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL,
  object_id text NOT NULL,
  namespace text NOT NULL DEFAULT 'default',
  state /* schema */resource_state NOT NULL DEFAULT 'scheduled',
  object jsonb NOT NULL,
  hash bytea NOT NULL,
  generation bigint NOT NULL DEFAULT 1,
  attempt smallint NOT NULL DEFAULT 0,
  max_attempts smallint NOT NULL DEFAULT 10,
  run_at timestamptz NOT NULL DEFAULT now(),
  attempted_at timestamptz,
  synced_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  external_created_at timestamptz,
  deleted_at timestamptz,
  lease_owner text,
  lease_expires_at timestamptz,
  metadata jsonb NOT NULL DEFAULT '{}',
  tags text[] NOT NULL DEFAULT '{}',
  errors jsonb[] NOT NULL DEFAULT '{}',
  CONSTRAINT delta_resource_kind_object_id_key UNIQUE (kind, object_id),
  CONSTRAINT delta_resource_object_id_length CHECK (char_length(object_id) BETWEEN 1 AND 254),
  CONSTRAINT delta_resource_attempt_non_negative CHECK (attempt >= 0),
  CONSTRAINT delta_resource_max_attempts_positive CHECK (max_attempts > 0),
  CONSTRAINT delta_resource_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);

COMMENT ON TABLE /* schema */delta_resource IS
  'One row per (kind, object_id): the stored object and its synchronization state. The row '
  'itself is the unit of work: workers claim it with a lease (lease_owner, lease_expires_at).';

-- The claim: runnable rows of one kind, oldest run_at first.
CREATE INDEX delta_resource_claim_idx ON /* schema */delta_resource (kind, run_at, id)
  WHERE state IN ('scheduled', 'failed', 'expired');

-- The rescuer: pending rows whose lease has run out.
CREATE INDEX delta_resource_lease_idx ON /* schema */delta_resource (lease_expires_at)
  WHERE state = 'pending';

-- The expirer: synced rows of a namespace older than its expiry TTL.
CREATE INDEX delta_resource_expiry_idx ON /* schema */delta_resource (namespace, synced_at)
  WHERE state = 'synced';

-- The cleaner: rows past their state's retention period.
CREATE INDEX delta_resource_cleaner_idx ON /* schema */delta_resource (state, updated_at)
  WHERE state IN ('synced', 'deleted', 'degraded');

-- ---------------------------------------------------------------------------------------
-- Namespaces and controllers
-- ---------------------------------------------------------------------------------------

CREATE TABLE /* schema */delta_namespace (
  name text PRIMARY KEY,
  expiry_ttl interval,          -- NULL: synced resources never expire
  synced_retention interval,    -- NULL: kept forever
  deleted_retention interval,   -- NULL: kept forever
  degraded_retention interval,  -- NULL: kept forever
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT delta_namespace_name_format CHECK (name ~ '^[a-z0-9]+([_-][a-z0-9]+)*$'),
  CONSTRAINT delta_namespace_name_length CHECK (char_length(name) <= 64),
  CONSTRAINT delta_namespace_expiry_ttl_positive CHECK (expiry_ttl > interval '0'),
  CONSTRAINT delta_namespace_retention_non_negative CHECK (
    synced_retention >= interval '0'
    AND deleted_retention >= interval '0'
    AND degraded_retention >= interval '0')
);

COMMENT ON TABLE /* schema */delta_namespace IS
  'Per-namespace settings: expiry TTL of synced resources and retention of synced, deleted '
  'and degraded rows. NULL means never.';

CREATE TABLE /* schema */delta_controller (
  kind text PRIMARY KEY,
  inform_interval interval,  -- NULL: periodic informs disabled
  last_inform_time timestamptz,  -- the informer cursor (InformOptions::after)
  last_inform_started_at timestamptz,
  last_inform_finished_at timestamptz,
  last_inform_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT delta_controller_kind_format CHECK (kind ~ '^[a-z0-9]+([_-][a-z0-9]+)*$'),
  CONSTRAINT delta_controller_kind_length CHECK (char_length(kind) <= 64),
  CONSTRAINT delta_controller_inform_interval_positive CHECK (inform_interval > interval '0')
);

COMMENT ON TABLE /* schema */delta_controller IS
  'One row per resource kind: the informer schedule and its cursor (last_inform_time).';

-- ---------------------------------------------------------------------------------------
-- Job queue
-- ---------------------------------------------------------------------------------------

-- The order of the values is part of the schema: unique_states bit N stands for the Nth
-- value (available = bit 0 ... discarded = bit 6).
CREATE TYPE /* schema */job_state AS ENUM (
  'available',  -- ready to run
  'scheduled',  -- waiting for scheduled_at
  'running',    -- fetched by a client (attempted_by)
  'retryable',  -- failed; waiting for scheduled_at to run again
  'completed',  -- finished successfully
  'cancelled',  -- cancelled by a worker or an operator
  'discarded'   -- failed max_attempts times
);

COMMENT ON TYPE /* schema */job_state IS
  'State of a delta_job row; completed, cancelled and discarded are final.';

-- True when `state`'s bit is set in `mask` (bit N = the Nth job_state value).
CREATE FUNCTION /* schema */job_state_in_bitmask(mask smallint, state /* schema */job_state)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT (mask::integer & (1 << CASE state
    WHEN 'available' THEN 0
    WHEN 'scheduled' THEN 1
    WHEN 'running' THEN 2
    WHEN 'retryable' THEN 3
    WHEN 'completed' THEN 4
    WHEN 'cancelled' THEN 5
    WHEN 'discarded' THEN 6
  END)) <> 0
$$;

COMMENT ON FUNCTION /* schema */job_state_in_bitmask(smallint, /* schema */job_state) IS
  'Whether a job state is one of the states in a unique_states bitmask.';

CREATE TABLE /* schema */delta_job (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL,
  queue text NOT NULL DEFAULT 'default',
  state /* schema */job_state NOT NULL DEFAULT 'available',
  priority smallint NOT NULL DEFAULT 1,
  args jsonb NOT NULL DEFAULT '{}',
  metadata jsonb NOT NULL DEFAULT '{}',
  tags text[] NOT NULL DEFAULT '{}',
  attempt smallint NOT NULL DEFAULT 0,
  max_attempts smallint NOT NULL DEFAULT 25,
  attempted_at timestamptz,
  attempted_by text,  -- id of the client running (or that last ran) the job
  timeout_at timestamptz,  -- deadline of the current attempt; NULL: none
  created_at timestamptz NOT NULL DEFAULT now(),
  scheduled_at timestamptz NOT NULL DEFAULT now(),
  finalized_at timestamptz,
  errors jsonb[] NOT NULL DEFAULT '{}',
  unique_key bytea,
  unique_states smallint,  -- bitmask over job_state values, see job_state_in_bitmask
  CONSTRAINT delta_job_kind_length CHECK (char_length(kind) BETWEEN 1 AND 128),
  CONSTRAINT delta_job_queue_length CHECK (char_length(queue) BETWEEN 1 AND 128),
  CONSTRAINT delta_job_priority_range CHECK (priority BETWEEN 1 AND 4),
  CONSTRAINT delta_job_attempt_non_negative CHECK (attempt >= 0),
  CONSTRAINT delta_job_max_attempts_positive CHECK (max_attempts > 0),
  CONSTRAINT delta_job_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object'),
  CONSTRAINT delta_job_unique_states_range CHECK (unique_states BETWEEN 0 AND 127),
  CONSTRAINT delta_job_finalized_at_iff_final CHECK (
    (state IN ('completed', 'cancelled', 'discarded')) = (finalized_at IS NOT NULL))
);

COMMENT ON TABLE /* schema */delta_job IS
  'The job queue: one row per job, from insert until the cleaner removes it after it '
  'reached a final state.';

-- Unique jobs: at most one row per unique_key among the states the inserter chose.
CREATE UNIQUE INDEX delta_job_unique_idx ON /* schema */delta_job (unique_key)
  WHERE unique_key IS NOT NULL
    AND unique_states IS NOT NULL
    AND /* schema */job_state_in_bitmask(unique_states, state);

-- The fetch: available jobs of a queue by priority, then schedule, then insertion order.
CREATE INDEX delta_job_fetch_idx ON /* schema */delta_job (queue, priority, scheduled_at, id)
  WHERE state = 'available';

-- The scheduler: scheduled and retryable jobs that have come due.
CREATE INDEX delta_job_scheduler_idx ON /* schema */delta_job (scheduled_at)
  WHERE state IN ('scheduled', 'retryable');

-- The rescuer: running jobs of a client that is gone, and attempts past their deadline.
CREATE INDEX delta_job_running_by_idx ON /* schema */delta_job (attempted_by)
  WHERE state = 'running';
CREATE INDEX delta_job_running_timeout_idx ON /* schema */delta_job (timeout_at)
  WHERE state = 'running';

-- The cleaner: final jobs past their retention.
CREATE INDEX delta_job_cleaner_idx ON /* schema */delta_job (state, finalized_at)
  WHERE state IN ('completed', 'cancelled', 'discarded');

CREATE INDEX delta_job_kind_idx ON /* schema */delta_job (kind);

CREATE TABLE /* schema */delta_queue (
  name text PRIMARY KEY,
  paused_at timestamptz,  -- NULL: running
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT delta_queue_name_length CHECK (char_length(name) BETWEEN 1 AND 128),
  CONSTRAINT delta_queue_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);

COMMENT ON TABLE /* schema */delta_queue IS
  'Job queues known to the database; a queue with paused_at set is not fetched from.';

CREATE TABLE /* schema */delta_leader (
  name text PRIMARY KEY DEFAULT 'default',
  leader_id text NOT NULL,
  elected_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);

COMMENT ON TABLE /* schema */delta_leader IS
  'Leader election: the client whose lease (expires_at) is current runs the maintenance '
  'services; another client takes over once the lease lapses.';

CREATE TABLE /* schema */delta_client (
  id text PRIMARY KEY,
  hostname text,
  pid integer,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at timestamptz,  -- NULL: running (or died without stopping)
  metadata jsonb NOT NULL DEFAULT '{}',  -- the queues and kinds it serves
  CONSTRAINT delta_client_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);

COMMENT ON TABLE /* schema */delta_client IS
  'Live and recently stopped clients with their heartbeats; the rescuer treats running '
  'jobs of a client without a recent heartbeat as abandoned.';

CREATE INDEX delta_client_heartbeat_idx ON /* schema */delta_client (heartbeat_at);

CREATE TABLE /* schema */delta_periodic_job (
  name text PRIMARY KEY,
  next_run_at timestamptz,
  last_run_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE /* schema */delta_periodic_job IS
  'When each periodic job last ran and runs next, so exactly one insert happens per '
  'period across all clients.';
