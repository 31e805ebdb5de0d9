-- In a limited fetch, after flow_lock: jobs of queue $1 running now.
SELECT count(*) FROM /* schema */delta_job WHERE state = 'running' AND queue = $1
