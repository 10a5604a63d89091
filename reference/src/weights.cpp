#include "moecheck/reference/weights.hpp"

#include <limits>
#include <string>

#include "moecheck/reference/error.hpp"

namespace moecheck {

namespace {

[[noreturn]] void fail(const char* what, const std::string& msg) {
  throw InputError(std::string(what) + ": " + msg);
}

void positive(const char* what, const char* field, int64_t v) {
  if (v <= 0) fail(what, std::string(field) + "=" + std::to_string(v) + " must be positive");
}

// a * b without signed overflow (UB); both are positive here.
bool mul_fits(int64_t a, int64_t b) {
  return a <= std::numeric_limits<int64_t>::max() / b;
}

}  // namespace

void validate(const WeightShape& s, const char* what) {
  positive(what, "E", s.experts);
  positive(what, "N", s.n);
  positive(what, "K", s.k);
  positive(what, "G", s.group);
  if (s.k % s.group != 0) {
    fail(what, "K=" + std::to_string(s.k) +
                   " is not a multiple of the group size G=" + std::to_string(s.group));
  }
  if (s.k % 8 != 0) {
    fail(what, "K=" + std::to_string(s.k) +
                   " is not a multiple of 8 (the packed formats hold 8 k per int32 word)");
  }
  if (!mul_fits(s.experts, s.n) || !mul_fits(s.experts * s.n, s.k)) {
    fail(what, "E*N*K = " + std::to_string(s.experts) + "*" + std::to_string(s.n) + "*" +
                   std::to_string(s.k) + " overflows int64");
  }
}

void validate(const QuantWeights& w, const char* what) {
  validate(w.shape, what);
  const int64_t rows = w.shape.experts * w.shape.n;
  const auto length = [&](const char* name, size_t got, int64_t want) {
    if (got != static_cast<size_t>(want)) {
      fail(what, std::string(name) + " has " + std::to_string(got) + " elements, expected " +
                     std::to_string(want));
    }
  };
  length("q", w.q.size(), rows * w.shape.k);
  length("scale", w.scale.size(), rows * w.shape.groups());
  length("zero", w.zero.size(), rows * w.shape.groups());
  for (size_t i = 0; i < w.q.size(); ++i) {
    if (w.q[i] > 15) {
      fail(what, "q[" + std::to_string(i) + "]=" + std::to_string(w.q[i]) + " is not in 0..15");
    }
  }
  for (size_t i = 0; i < w.zero.size(); ++i) {
    if (w.zero[i] > 15) {
      fail(what,
           "zero[" + std::to_string(i) + "]=" + std::to_string(w.zero[i]) + " is not in 0..15");
    }
    if (w.symmetric && w.zero[i] != 8) {
      fail(what, "zero[" + std::to_string(i) + "]=" + std::to_string(w.zero[i]) +
                     " but symmetric (uint4b8) weights have every zero 8");
    }
  }
}

QuantWeights QuantWeights::zeros_like(const WeightShape& s, DType dtype, bool symmetric) {
  validate(s, "zeros_like");
  QuantWeights w;
  w.shape = s;
  w.dtype = dtype;
  w.symmetric = symmetric;
  const int64_t rows = s.experts * s.n;
  w.q.assign(static_cast<size_t>(rows * s.k), 0);
  w.scale.assign(static_cast<size_t>(rows * s.groups()), 0);
  w.zero.assign(static_cast<size_t>(rows * s.groups()), symmetric ? 8 : 0);
  return w;
}

bool QuantWeights::operator==(const QuantWeights& o) const {
  return shape.experts == o.shape.experts && shape.n == o.shape.n && shape.k == o.shape.k &&
         shape.group == o.shape.group && dtype == o.dtype && symmetric == o.symmetric && q == o.q &&
         scale == o.scale && zero == o.zero;
}

}  // namespace moecheck
