// Runs the `delta` command built with the tests, the way an operator or a script would,
// and what it printed. For tests of tests/cli/.
#pragma once

#include <string>
#include <vector>

namespace delta::testing {

struct CliRun {
  int exit_code = -1;  // -1: killed by a signal, or could not start
  std::string out;     // standard output
  std::string err;     // standard error
  // Both, standard output first (for messages that may go to either).
  std::string all() const { return out + err; }
};

// Runs delta with `args`, its standard input /dev/null (not a terminal), `env` (NAME=value)
// added to this process's environment.
CliRun run_delta(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// Runs delta with `args` on a pseudo-terminal (standard input, output and error), and types
// `answer` and a newline once it has printed `prompt`; `out` has everything it printed
// (the terminal merges both streams, with "\r\n" line ends). Fails the test if the prompt
// does not come within 30 s.
CliRun run_delta_in_terminal(const std::vector<std::string>& args, const std::string& prompt,
                             const std::string& answer);

}  // namespace delta::testing
