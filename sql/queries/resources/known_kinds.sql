SELECT kind FROM /* schema */delta_controller
