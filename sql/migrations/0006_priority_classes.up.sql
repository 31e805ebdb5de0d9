-- Fresh changes first (docs/flow-control.md): a resource is due in one of two priority
-- classes, and a claim takes every due resource of class 0 before any of class 1.
--   0 (fresh)       informed new or changed, or forced by an explicit inform;
--   1 (background)  due again because of a retry after a failure, an expiry, an
--                   invalidation, a rescue or a process_existing resync.
-- InformOpts::priority lets a caller choose the class of what it informs. Within a class
-- the claim order is as before: oldest run_at first, then id.
ALTER TABLE /* schema */delta_resource
  ADD COLUMN priority smallint NOT NULL DEFAULT 0
    CONSTRAINT delta_resource_priority_check CHECK (priority IN (0, 1));
COMMENT ON COLUMN /* schema */delta_resource.priority IS
  'The class the resource is due in: 0 fresh (informed new or changed), 1 background '
  '(a retry, expiry, invalidation, rescue or resync); a claim takes class 0 first.';

-- What waits now because of a failure or an expiry is background work.
UPDATE /* schema */delta_resource SET priority = 1 WHERE state IN ('failed', 'expired');

-- The claim: runnable rows of one kind, by class, then oldest run_at first.
DROP INDEX /* schema */delta_resource_claim_idx;
CREATE INDEX delta_resource_claim_idx ON /* schema */delta_resource (kind, priority, run_at, id)
  WHERE state IN ('scheduled', 'failed', 'expired');
