// Work spread over threads, for the reference GEMMs and the weight generator. Every job writes
// only its own outputs, so results never depend on the number of threads.
#pragma once

#include <cstdint>
#include <functional>

namespace moecheck {

// Worker threads: 0 (the default) uses every hardware thread; MOECHECK_REFERENCE_THREADS
// overrides both (1, or a value that is not a positive number, runs everything on the calling
// thread).
void set_reference_threads(int threads);

// How many workers parallel_for uses for `jobs` jobs: min(threads, jobs), and at least 1.
int parallel_workers(int64_t jobs);

// Runs fn(job, worker) once for every job in [0, jobs), taken in order by `workers` workers;
// `worker` in [0, workers) lets a job reuse that worker's scratch space (size it with the same
// `workers`). The calling thread is worker 0; if the system refuses a thread, the others take its
// jobs. An exception from a job stops the workers taking more jobs and is rethrown here (the
// first one, if several throw) once all have stopped.
void parallel_for(int64_t jobs, int workers,
                  const std::function<void(int64_t job, int worker)>& fn);

// The same on parallel_workers(jobs) workers, for jobs that need no scratch space.
void parallel_for(int64_t jobs, const std::function<void(int64_t job, int worker)>& fn);

}  // namespace moecheck
