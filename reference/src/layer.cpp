#include "moecheck/reference/layer.hpp"

#include <cmath>

namespace moecheck {

LayerReference reference_layer(const LayerProblem& p, const Tolerance& tol) {
  LayerReference ref;
  ref.alignment = align_block_size(p.routing, p.block_m);
  if (p.apply_router_weight_on_input) {
    ref.gemm1_input = apply_router_weight_on_input(p.a, p.routing);
    ref.gemm1_route_div = 1;
  } else {
    ref.gemm1_input = p.a;
    ref.gemm1_route_div = p.routing.top_k;
  }
  ref.c1 = routed_gemm(ref.gemm1_input, ref.gemm1_route_div, p.w1, p.routing, ref.alignment, {});
  ref.c1_bound = element_bounds(ref.c1, tol);

  ref.act = silu_and_mul(ref.c1, ref.c1_bound);
  ref.act_bound = element_bounds(ref.act, tol);
  ref.act_input = to_activations(ref.act, p.a.dtype);
  // gemm2 sees a kernel's act, within act_bound of the exact act; the reference feeds it the
  // exact act rounded once, which is itself within u_out * |act| of it.
  std::vector<double> act_error(ref.act_bound);
  for (size_t i = 0; i < act_error.size(); ++i) {
    act_error[i] += unit_roundoff(tol.out_dtype) * std::fabs(ref.act.value[i]);
  }
  GemmOptions g2;
  g2.mul_routed_weight = !p.apply_router_weight_on_input;
  ref.c2 = routed_gemm(ref.act_input, 1, p.w2, p.routing, ref.alignment, g2, &act_error);
  ref.c2_bound = element_bounds(ref.c2, tol);
  ref.out = moe_sum(ref.c2, p.routing.top_k, ref.c2_bound);
  return ref;
}

}  // namespace moecheck
