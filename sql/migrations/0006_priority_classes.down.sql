DROP INDEX /* schema */delta_resource_claim_idx;
CREATE INDEX delta_resource_claim_idx ON /* schema */delta_resource (kind, run_at, id)
  WHERE state IN ('scheduled', 'failed', 'expired');
ALTER TABLE /* schema */delta_resource DROP COLUMN priority;
