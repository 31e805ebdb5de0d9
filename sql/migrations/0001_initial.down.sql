-- Reverts 0001_initial.up.sql. The schema itself (and delta_migration) is left to the
-- migrator, which drops it only when nothing else lives in it.
--
-- No CASCADE: if you built views or foreign keys on delta's tables, this fails and
-- rolls back rather than dropping your objects.

DROP TABLE /* schema */delta_periodic_job;
DROP TABLE /* schema */delta_client;
DROP TABLE /* schema */delta_leader;
DROP TABLE /* schema */delta_queue;
DROP TABLE /* schema */delta_job;
DROP FUNCTION /* schema */job_state_in_bitmask(smallint, /* schema */job_state);
DROP TYPE /* schema */job_state;

DROP TABLE /* schema */delta_controller;
DROP TABLE /* schema */delta_namespace;
DROP TABLE /* schema */delta_resource;
DROP TYPE /* schema */resource_state;
