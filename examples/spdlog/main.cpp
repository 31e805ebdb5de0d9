// Routing delta's log records to spdlog: the message through spdlog's own formatting, the
// fields appended as key=value (delta::format_fields). A client runs a job for a moment so
// that delta's own records (the leader election, the job's record) go through spdlog.
//
// Reads the database from DATABASE_URL, else libpq's PG* variables.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include <delta/delta.hpp>

// delta's levels, in order, as spdlog's.
spdlog::level::level_enum spdlog_level(delta::LogLevel level) {
  static constexpr spdlog::level::level_enum levels[] = {spdlog::level::debug, spdlog::level::info,
                                                         spdlog::level::warn, spdlog::level::err};
  return levels[static_cast<int>(level)];
}

delta::Logger to_spdlog(std::shared_ptr<spdlog::logger> log) {
  return delta::Logger(
      [log = std::move(log)](const delta::LogRecord& record) {
        log->log(spdlog_level(record.level), "{} {}", record.message,
                 delta::format_fields(record.fields));
      },
      delta::LogLevel::info);
}

struct Hello {
  std::string name;
  static constexpr std::string_view kind = "hello";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Hello, name)

std::atomic<bool> done{false};

class HelloWorker : public delta::jobs::Worker<Hello> {
 public:
  delta::jobs::JobResult work(delta::jobs::JobContext& ctx,
                              const delta::jobs::Job<Hello>& job) override {
    // Carries job_id, queue, kind and attempt besides `name`.
    ctx.log(delta::LogLevel::info, "saying hello", {{"name", job.args.name}});
    done = true;
    return delta::jobs::complete();
  }
};

int main() {
  try {
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    const char* url = std::getenv("DATABASE_URL");
    auto pool = delta::pg::Pool::create(url != nullptr ? url : "", {.max_connections = 4});
    delta::migrate(*pool);

    delta::Config config;
    config.logger = to_spdlog(spdlog::default_logger());
    config.workers.add(std::make_shared<HelloWorker>());
    config.queues["default"] = {.max_workers = 1};
    delta::Client client(pool, config);
    client.start();
    client.jobs().insert(Hello{"spdlog"});
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    client.stop(std::chrono::seconds(5));
    return done ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "example_spdlog: " << e.what() << "\n";
    return 1;
  }
}
