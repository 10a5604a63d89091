// The tolerance model (DESIGN.md section 5) and the one comparator every suite uses.
//
// An output element passes when
//   |c - c_ref| <= alpha * (u_w + gamma_K) * M + u_out * |c_ref| + extra + tiny
// u_w: unit roundoff of the activation dtype (a kernel may round dequantised weights to it);
// gamma_K = K u / (1 - K u), u = 2^-24 (fp32 accumulation); u_out: the output dtype's unit
// roundoff (one final rounding); extra: the error already in a chained stage's inputs,
// propagated by the reference (moe.hpp, bound_extra); tiny: the output dtype's smallest
// subnormal (rounding near zero, where u_out * |c_ref| is no bound).
// alpha = 2 (kDefaultAlpha): the u_w term allows both operands of a product to be rounded to the
// activation dtype once (the weight, and an activation a kernel rescales), and gamma_K is the
// classical worst case for any summation order; alpha doubles that for headroom on split sums.
// NaN and Inf never pass.
//
// Chained stages (end to end) compose the bound stage by stage: each stage's bound becomes the
// absolute input error of the next, propagated through it (|W| . err for a GEMM, the derivative of
// silu(x) * y for the activation, a plain sum for moe_sum), plus that stage's own terms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "moecheck/reference/dtype.hpp"
#include "moecheck/reference/moe.hpp"
#include "moecheck/reference/result.hpp"

namespace moecheck {

inline constexpr double kDefaultAlpha = 2.0;

struct Tolerance {
  DType weight_dtype = DType::bf16;  // u_w
  DType out_dtype = DType::bf16;     // u_out, tiny
  double alpha = kDefaultAlpha;
  bool exact = false;  // exact tier: bit for bit
};

double gamma_k(int64_t k);
double smallest_subnormal(DType t);

// The bound of element `idx` of `ref` (absolute).
double element_bound(const RefOutput& ref, int64_t idx, const Tolerance& tol);
// The bound of every element, as the next chained stage's input error.
std::vector<double> element_bounds(const RefOutput& ref, const Tolerance& tol);

struct Comparison {
  Outcome outcome = Outcome::Passed;
  double worst_margin = 0;   // max |c - c_ref| / bound over compared elements (0 when bound is 0
                             // and the element matches; inf for a mismatch with zero bound)
  double rel_l1 = 0;         // sum |c - c_ref| / sum |c_ref|
  int64_t worst_index = -1;  // flat index of the worst element
  int64_t compared = 0;      // elements compared
  int64_t beyond = 0;        // elements beyond their bound
  std::string message;       // the first problem, naming row, column, values and bound
};

// Compares an implementation's output (dtype bits, [rows, ldc] with ldc >= cols) against the
// reference. Rows the reference marks unwritten must still hold `poison` bit patterns, else
// Failed ("untouched row written"). Rows `only_rows` (if non-empty) restricts the comparison to
// a sample of rows (the others are not checked at all), for huge cases.
Comparison compare(const std::vector<uint16_t>& actual, int64_t ldc, const RefOutput& ref,
                   const Tolerance& tol, uint16_t poison,
                   const std::vector<int64_t>& only_rows = {});

}  // namespace moecheck
