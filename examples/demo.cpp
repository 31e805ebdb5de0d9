// delta's demo: connect, migrate, and show what the database now holds.
//
// Reads the database from DATABASE_URL, else libpq's PG* variables (scripts/demo runs it
// under pg_virtualenv, which sets them for a throwaway cluster).
#include <cstdlib>
#include <iostream>

#include <delta/delta.hpp>

int main() {
  try {
    const char* url = std::getenv("DATABASE_URL");
    auto pool = delta::pg::Pool::create(url != nullptr ? url : "", {.max_connections = 4});

    auto before = delta::current_schema_version(*pool);
    auto result = delta::migrate(*pool);
    std::cout << "migrated schema \"delta\" from version " << before << " to "
              << result.version_after << " (" << result.versions.size() << " applied)\n";

    // Running it again is a no-op.
    auto again = delta::migrate(*pool);
    std::cout << "second run applied " << again.versions.size() << " migrations\n";
    delta::check_schema(*pool);

    auto tables = pool->exec(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
        "ORDER BY table_name",
        "delta");
    std::cout << "tables in schema \"delta\":";
    for (auto row : tables)
      std::cout << ' ' << row.get<std::string>(0);
    std::cout << '\n';

    for (const auto& info : delta::migration_status(*pool)) {
      std::cout << "  " << info.version << ' ' << info.name << ' '
                << (info.applied ? "applied" : "pending") << '\n';
    }
    return 0;
  } catch (const delta::Error& e) {
    std::cerr << "demo: " << e.what() << '\n';
    return 1;
  }
}
