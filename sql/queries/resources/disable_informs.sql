UPDATE /* schema */delta_controller
SET inform_interval = NULL, last_inform_error = 'the controller has no informer', updated_at = now()
WHERE kind = $1
