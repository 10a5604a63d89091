#!/bin/sh
# bench.gpu_smoke: moecheck_bench end to end on the device, on four quick cases (gemm1 through the
# tiled and the fused kernel, bf16 and fp16), then a check of what it wrote.
#   smoke_test.sh BENCH OUT_DIR [AGAINST_LIBRARY]
# Exit 0: every row ok, and for every row the CSV holds a copy bandwidth, TFLOP/s, a
# pct_atom_peak and the atom's peak in the row's dtype, that peak below 10000 TFLOP/s (no device
# comes near; an atom loop the compiler dropped would show far more), and the bf16 and fp16 peaks
# within 25 % of each other (both atoms, mma.sync and gfx11's WMMA, run the two dtypes at one
# rate; a measurement broken for one dtype shows here). Exit 77 (ctest: skipped) without a usable
# GPU, or on a device with no matrix atom (the kernels do not run there), with the bench's
# reason. Where the build has a vendor GEMM (the log does not say "vendor GEMM: absent"), every
# row also holds its time and % (timed alternating with the row's launches, device_timing.hpp
# time_together). Exit 1 otherwise, saying which check failed. It needs the GPU to itself (ctest
# runs it with RUN_SERIAL): beside other cases the two peaks were once 25 % apart.
# bench.gpu_against: the same with AGAINST_LIBRARY, the built-in kernels' own library (an A/A
# run of --against: the same kernels on both sides), and also: every row has an against_us and a
# speedup within 0.5..2 (both sides time the same kernel on the same inputs, so only a
# comparison that timed something else on one side, or nothing, lands outside: a check of the
# tool, not of the kernels' speed), and the summary's "all" line counts the 4 rows.
bench=$1
out=$2
against=$3
mkdir -p "$out" || exit 1
rm -f "$out/smoke.csv" "$out/smoke.json"
set -- --labels gpu_kernel,quick --warmup 1 --iters 3 \
  --filter '^gpu_kernel\.gemm1_(tiled|fused)_E8_k2_H256_I96_T7_G32_(bf16|fp16)_[a-z0-9_]*_bm(16|4)_seed1$'
if [ -n "$against" ]; then set -- "$@" --against "$against" --passes 2; fi
"$bench" "$@" --csv "$out/smoke.csv" --json "$out/smoke.json" >"$out/smoke.log" 2>&1
rc=$?
if [ "$rc" -eq 3 ]; then
  echo "SKIPPED: $(cat "$out/smoke.log")"
  exit 77
fi
if [ "$rc" -eq 0 ] && grep -q "atom peak: not measured" "$out/smoke.log"; then
  echo "SKIPPED: $(grep "atom peak: not measured" "$out/smoke.log")"
  exit 77
fi
cat "$out/smoke.log"
if [ "$rc" -ne 0 ]; then
  echo "bench.gpu_smoke: moecheck_bench exited $rc"
  exit 1
fi
if [ ! -s "$out/smoke.json" ]; then
  echo "bench.gpu_smoke: $out/smoke.json was not written"
  exit 1
fi
if [ -n "$against" ] && ! grep -Eq '^  all +4 rows  geomean [0-9.]+x' "$out/smoke.log"; then
  echo "bench.gpu_smoke: --against: no summary line 'all 4 rows' in the log"
  exit 1
fi
vendor=1
if grep -q "vendor GEMM: absent" "$out/smoke.log"; then vendor=0; fi
awk -F, -v against="$against" -v vendor="$vendor" '
  NR == 1 {
    for (i = 1; i <= NF; ++i) col[$i] = i
    split("status dtype tflops pct_copy_bw copy_gbps atom_tflops pct_atom_peak vendor_us pct_vendor against_us speedup", need, " ")
    for (j in need) if (!(need[j] in col)) { print "no column " need[j]; bad = 1; exit }
    next
  }
  {
    ++rows
    what = $1 ": "
    if ($col["status"] != "ok") { print what "status " $col["status"]; bad = 1 }
    if ($col["tflops"] + 0 <= 0) { print what "tflops " $col["tflops"]; bad = 1 }
    if ($col["pct_copy_bw"] + 0 <= 0 || $col["copy_gbps"] + 0 <= 0) { print what "no copy bandwidth"; bad = 1 }
    peak = $col["atom_tflops"] + 0
    if (peak <= 0 || peak >= 10000) { print what "atom_tflops " $col["atom_tflops"]; bad = 1 }
    if ($col["pct_atom_peak"] + 0 <= 0) { print what "pct_atom_peak " $col["pct_atom_peak"]; bad = 1 }
    if (vendor && ($col["vendor_us"] + 0 <= 0 || $col["pct_vendor"] + 0 <= 0)) {
      print what "no vendor GEMM time (vendor_us " $col["vendor_us"] ")"; bad = 1
    }
    if (against != "") {
      if ($col["against_us"] + 0 <= 0) { print what "against_us " $col["against_us"]; bad = 1 }
      s = $col["speedup"] + 0
      if (s < 0.5 || s > 2) { print what "speedup " $col["speedup"] " (A/A)"; bad = 1 }
    }
    roof[$col["dtype"]] = peak
  }
  END {
    if (!bad && rows != 4) { print "expected 4 rows, got " rows + 0; bad = 1 }
    b = roof["bf16"]; f = roof["fp16"]
    if (!bad && (b <= 0 || f <= 0 || b > 1.25 * f || f > 1.25 * b)) {
      print "atom peaks disagree: bf16 " b ", fp16 " f " TFLOP/s"; bad = 1
    }
    exit bad
  }' "$out/smoke.csv" || { echo "bench.gpu_smoke: $out/smoke.csv fails the checks above"; exit 1; }
echo "bench.gpu_smoke: 4 rows ok"
