-- How many jobs a filter selects: the dry run of a bulk action on jobs.
SELECT count(*)
FROM /* schema */delta_job j
WHERE /* include admin/_job_filter */
