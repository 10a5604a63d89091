#include "moecheck/reference/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace moecheck {

namespace {

int g_threads = 0;  // 0: hardware concurrency

}  // namespace

void set_reference_threads(int threads) {
  g_threads = threads;
}

int parallel_workers(int64_t jobs) {
  int n = g_threads > 0 ? g_threads : static_cast<int>(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("MOECHECK_REFERENCE_THREADS")) n = std::atoi(env);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(n, jobs)));
}

void parallel_for(int64_t jobs, int workers, const std::function<void(int64_t, int)>& fn) {
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_lock;
  auto work = [&](int worker) {
    for (int64_t job = next++; job < jobs && !failed; job = next++) {
      try {
        fn(job, worker);
      } catch (...) {
        std::lock_guard<std::mutex> hold(error_lock);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) {
    try {
      threads.emplace_back(work, w);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running take every job all the same
    }
  }
  work(0);
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

void parallel_for(int64_t jobs, const std::function<void(int64_t, int)>& fn) {
  parallel_for(jobs, parallel_workers(jobs), fn);
}

}  // namespace moecheck
