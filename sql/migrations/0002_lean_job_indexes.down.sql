CREATE INDEX delta_job_running_timeout_idx ON /* schema */delta_job (timeout_at)
  WHERE state = 'running';
CREATE INDEX delta_job_kind_idx ON /* schema */delta_job (kind);
