#include "moecheck/reference/tolerance.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "moecheck/reference/error.hpp"

namespace moecheck {

double gamma_k(int64_t k) {
  const double ku = static_cast<double>(k) * 0x1p-24;
  return ku < 1 ? ku / (1 - ku) : std::numeric_limits<double>::infinity();
}

double smallest_subnormal(DType t) {
  return t == DType::bf16 ? 0x1p-133 : 0x1p-24;
}

double element_bound(const RefOutput& ref, int64_t idx, const Tolerance& tol) {
  const double u_w = ref.weight_rounding ? unit_roundoff(tol.weight_dtype) : 0.0;
  return tol.alpha * (u_w + gamma_k(ref.k)) * ref.magnitude[idx] +
         unit_roundoff(tol.out_dtype) * std::fabs(ref.value[idx]) + ref.bound_extra[idx] +
         smallest_subnormal(tol.out_dtype);
}

std::vector<double> element_bounds(const RefOutput& ref, const Tolerance& tol) {
  std::vector<double> out(ref.value.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = element_bound(ref, static_cast<int64_t>(i), tol);
  return out;
}

namespace {

std::string describe(const char* what, int64_t row, int64_t col, double got, double want,
                     double bound) {
  std::ostringstream os;
  os.precision(9);
  os << what << " at row " << row << ", column " << col << ": got " << got << ", reference " << want
     << ", |diff| " << std::fabs(got - want) << ", bound " << bound;
  return os.str();
}

}  // namespace

Comparison compare(const std::vector<uint16_t>& actual, int64_t ldc, const RefOutput& ref,
                   const Tolerance& tol, uint16_t poison, const std::vector<int64_t>& only_rows) {
  if (ldc < ref.cols ||
      actual.size() < static_cast<size_t>(ref.rows > 0 ? (ref.rows - 1) * ldc + ref.cols : 0)) {
    throw InputError("compare: output buffer of " + std::to_string(actual.size()) +
                     " elements with ldc " + std::to_string(ldc) + " cannot hold " +
                     std::to_string(ref.rows) + " x " + std::to_string(ref.cols));
  }
  Comparison res;
  double sum_diff = 0, sum_ref = 0;
  auto note = [&](Outcome o, const std::string& msg) {
    // Failed outranks Incorrect; the first message of the worst kind is kept.
    if (o == Outcome::Failed && res.outcome != Outcome::Failed) {
      res.outcome = Outcome::Failed;
      res.message = msg;
    } else if (o == Outcome::Incorrect && res.outcome == Outcome::Passed) {
      res.outcome = Outcome::Incorrect;
      res.message = msg;
    }
  };
  auto check_row = [&](int64_t r) {
    const uint16_t* row = actual.data() + r * ldc;
    if (!ref.written[r]) {
      for (int64_t c = 0; c < ref.cols; ++c) {
        if (row[c] != poison) {
          note(Outcome::Failed, describe("untouched row written", r, c,
                                         bits_to_float(row[c], tol.out_dtype), NAN, 0));
          return;
        }
      }
      return;
    }
    for (int64_t c = 0; c < ref.cols; ++c) {
      const int64_t idx = r * ref.cols + c;
      const double want = ref.value[idx];
      const double got = bits_to_float(row[c], tol.out_dtype);
      ++res.compared;
      if (!std::isfinite(got)) {
        note(Outcome::Failed, describe(std::isnan(got) ? "NaN (element never written?)" : "Inf", r,
                                       c, got, want, 0));
        ++res.beyond;
        continue;
      }
      const double diff = std::fabs(got - want);
      sum_diff += diff;
      sum_ref += std::fabs(want);
      double margin;
      bool bad;
      double bound;
      if (tol.exact) {
        // Bit for bit against the reference rounded once to the output dtype.
        const uint16_t expect = double_to_bits(want, tol.out_dtype);
        bad = row[c] != expect;
        bound = 0;
        margin = bad ? std::numeric_limits<double>::infinity() : 0.0;
      } else {
        bound = element_bound(ref, idx, tol);
        margin = diff / bound;
        bad = diff > bound;
      }
      if (margin > res.worst_margin || res.worst_index < 0) {
        res.worst_margin = margin;
        res.worst_index = idx;
      }
      if (bad) {
        ++res.beyond;
        note(Outcome::Incorrect,
             describe(tol.exact ? "exact-tier mismatch" : "beyond bound", r, c, got, want, bound));
      }
    }
  };
  if (only_rows.empty()) {
    for (int64_t r = 0; r < ref.rows; ++r) check_row(r);
  } else {
    for (int64_t r : only_rows) {
      if (r < 0 || r >= ref.rows) throw InputError("compare: sampled row out of range");
      check_row(r);
    }
  }
  res.rel_l1 = sum_ref > 0 ? sum_diff / sum_ref : sum_diff;
  return res;
}

}  // namespace moecheck
