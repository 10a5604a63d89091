#include "results.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "dump.hpp"

namespace moecheck {

namespace {
// Atomic: cheap, and right should a suite ever report from a helper thread.
std::atomic<const KnownBug*> g_current_bug{nullptr};
}  // namespace

void report_result_line(const std::string& json_line) {
  std::printf("moecheck-result %s", json_line.c_str());
  std::fflush(stdout);
  if (const char* path = std::getenv("MOECHECK_RESULTS")) {
    if (FILE* f = std::fopen(path, "a")) {
      // One short write in append mode: lines of the parallel ctest entries do not interleave.
      std::fputs(json_line.c_str(), f);
      std::fclose(f);
    }
  }
}

void report_stage_result(const std::string& test, const std::string& stage, const Comparison& cmp) {
  const KnownBug* bug = current_known_bug();
  Comparison shown = cmp;
  if (bug != nullptr && cmp.outcome != Outcome::Passed) shown.outcome = Outcome::KnownBug;
  std::string line = result_json(test, stage, shown);
  if (bug != nullptr) {
    line.pop_back();  // the closing brace: the entry's fields go inside the object
    line += ",\"observed\":\"" + std::string(to_string(cmp.outcome)) +
            "\",\"known_bug\":" + known_bug_json(*bug) + "}";
  }
  report_result_line(line + "\n");
}

std::string json_quote(const std::string& s) {
  // Replacement of invalid UTF-8 instead of an exception: a reason is reported, whatever it holds.
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const KnownBug* current_known_bug() {
  return g_current_bug.load();
}
void set_current_known_bug(const KnownBug* bug) {
  g_current_bug.store(bug);
}

std::string known_bug_json(const KnownBug& bug) {
  return "{\"issue\":" + json_quote(bug.issue) + ",\"reason\":" + json_quote(bug.reason) +
         ",\"source\":" + json_quote(bug.source) + "}";
}

}  // namespace moecheck
