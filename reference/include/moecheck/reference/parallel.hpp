// Work spread over threads, for the reference GEMMs and the weight generator. Every job writes
// only its own outputs, so results never depend on the number of threads.
#pragma once

#include <cstdint>
#include <functional>

namespace moecheck {

// Worker threads: 0 (the default) uses every hardware thread; MOECHECK_REFERENCE_THREADS
// overrides both (1 runs everything on the calling thread).
void set_reference_threads(int threads);

// How many workers parallel_for uses for `jobs` jobs: between 1 and min(threads, jobs).
int parallel_workers(int64_t jobs);

// Runs fn(job, worker) once for every job in [0, jobs), taken in order by parallel_workers(jobs)
// workers; `worker` in [0, workers) lets a job reuse that worker's scratch space. The calling
// thread is worker 0. An exception from a job stops the workers taking more jobs and is
// rethrown here (the first one, if several throw) once all have stopped.
void parallel_for(int64_t jobs, const std::function<void(int64_t job, int worker)>& fn);

}  // namespace moecheck
