// Background jobs with delta::jobs: define a job, insert it (also inside your own
// transaction), run workers, and schedule a periodic job.
//
// Reads the database from DATABASE_URL, else libpq's PG* variables.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <delta/delta.hpp>

// A job's arguments: a struct with a kind and JSON conversion.
struct SendEmail {
  std::string to;
  std::string subject;
  static constexpr std::string_view kind = "send_email";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SendEmail, to, subject)

struct Tick {
  static constexpr std::string_view kind = "tick";
};
void to_json(nlohmann::json& json, const Tick&) {
  json = nlohmann::json::object();
}
void from_json(const nlohmann::json&, Tick&) {}

std::atomic<int> sent{0};

class SendEmailWorker : public delta::jobs::Worker<SendEmail> {
 public:
  delta::jobs::JobResult work(delta::jobs::JobContext& ctx,
                              const delta::jobs::Job<SendEmail>& job) override {
    if (ctx.stop_requested()) return delta::jobs::retry("stopping");
    if (job.args.to.empty()) return delta::jobs::cancel("no recipient");
    ++sent;  // a real worker would talk to a mail service here
    return delta::jobs::complete();
  }
};

class TickWorker : public delta::jobs::Worker<Tick> {
 public:
  delta::jobs::JobResult work(delta::jobs::JobContext&, const delta::jobs::Job<Tick>&) override {
    std::cout << "tick\n";
    return delta::jobs::complete();
  }
};

int main() {
  try {
    const char* url = std::getenv("DATABASE_URL");
    auto pool = delta::pg::Pool::create(url != nullptr ? url : "", {.max_connections = 8});
    delta::migrate(*pool);

    delta::Config config;
    config.workers.add(std::make_shared<SendEmailWorker>());
    config.workers.add(std::make_shared<TickWorker>());
    config.queues["default"] = {.max_workers = 10};
    config.periodic_jobs.push_back(
        delta::jobs::every(std::chrono::seconds(1), [] { return Tick{}; }, {.run_on_start = true}));
    config.logger = delta::stderr_logger(delta::LogLevel::warn);
    delta::Client client(pool, config);
    client.start();

    // One job; a second identical unique job is skipped as a duplicate.
    auto first =
        client.jobs().insert(SendEmail{"ada@example.com", "hello"}, {.unique = {.by_args = true}});
    auto again =
        client.jobs().insert(SendEmail{"ada@example.com", "hello"}, {.unique = {.by_args = true}});
    std::cout << "inserted job " << first.job.id << "; duplicate skipped: " << std::boolalpha
              << again.unique_skipped_as_duplicate << '\n';

    // In your own transaction: the job exists only if the transaction commits.
    {
      auto tx = pool->begin();
      client.jobs().insert_tx(tx, SendEmail{"grace@example.com", "welcome"});
      tx.commit();
    }

    // Many at once, in one statement.
    std::vector<SendEmail> batch;
    for (int i = 0; i < 1000; ++i) {
      batch.push_back({"user" + std::to_string(i) + "@example.com", "news"});
    }
    client.jobs().insert_many(std::span<const SendEmail>(batch));

    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (sent < 1002 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::cout << "sent " << sent << " emails\n";
    client.stop(std::chrono::seconds(5));
    return sent == 1002 ? 0 : 1;
  } catch (const delta::Error& e) {
    std::cerr << "jobs example: " << e.what() << '\n';
    return 1;
  }
}
