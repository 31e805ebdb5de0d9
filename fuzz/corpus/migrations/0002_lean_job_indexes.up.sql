-- Fewer index entries per job version. Every update of a job (fetch, outcome) writes a
-- new row version, and each version gets an entry in every index whose predicate it
-- matches: a job used to cost ten index insertions from insert to completion.

-- Nothing delta runs reads jobs by kind alone; the fetch filters kinds on its own index.
DROP INDEX /* schema */delta_job_kind_idx;

-- The rescuer scans all running jobs (few: at most the workers of live clients) through
-- delta_job_running_by_idx and checks their deadlines there; a second index on the same
-- rows only doubled the cost of starting a job.
DROP INDEX /* schema */delta_job_running_timeout_idx;
