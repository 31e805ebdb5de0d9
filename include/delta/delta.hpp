// delta: keep a PostgreSQL database in step with outside systems.
//
// The umbrella header; include the specific headers to compile less.
#pragma once

#include <delta/admin.hpp>
#include <delta/client.hpp>
#include <delta/controller.hpp>
#include <delta/errors.hpp>
#include <delta/events.hpp>
#include <delta/jobs.hpp>
#include <delta/log.hpp>
#include <delta/metrics.hpp>
#include <delta/migrate.hpp>
#include <delta/object.hpp>
#include <delta/pg.hpp>
#include <delta/rate_limit.hpp>
#include <delta/resource.hpp>
#include <delta/time.hpp>
#include <delta/version.hpp>
