#!/usr/bin/env bash
# bundle_test.sh CONFIG WORK: ctest's bundle.relocated_gate_passes (ci/bundle/CMakeLists.txt).
#
# Packs the bundle of the build that CONFIG (<build>/ci/bundle/bundle_config.cmake) describes
# with ci/bundle/pack.cmake (what `--target bundle` runs; nothing is built), unpacks it into WORK,
# MOVES the unpacked folder elsewhere, and checks that
#   - every bundled ELF file names no build or source path in its RUNPATH, its executables say
#     $ORIGIN, and each library it needs (DT_NEEDED) resolves (ldd) into the bundle's lib/ when
#     the bundle carries it, else is a base-system or GPU-runtime library that is not carried;
#   - the binaries take their default catalog from the bundle;
#   - the bundle's gate on the labels cpu,smoke passes (exit 0) and writes its reports, with
#     ctest entries that point into the moved folder only.
set -uo pipefail
config="$1" work="$2"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
value() { sed -n "s/^set($1 \[==\[\(.*\)\]==\])\$/\1/p" "$config"; }
build="$(value BUNDLE_BUILD)" src="$(value BUNDLE_SOURCE)"
[[ -d "$build" && -d "$src" ]] || fail "$config names no build ($build) or source ($src) folder"
build="$(cd "$build" && pwd -P)" src="$(cd "$src" && pwd -P)"

rm -rf "$work"
mkdir -p "$work" || fail "cannot create $work"
archive="$work/moecheck-bundle.tar.gz"
cmake -DCONFIG="$config" -DARCHIVE="$archive" -P "$src/ci/bundle/pack.cmake" ||
  fail "pack.cmake failed"
# Unpacked and moved outside the build and source trees (kept for inspection when a check fails).
tmp="$(mktemp -d "${TMPDIR:-/tmp}/moecheck-bundle-test.XXXXXX")" || fail "mktemp failed"
trap 'if [[ $? == 0 ]]; then rm -rf "$tmp"; else echo "left for inspection: $tmp"; fi' EXIT
mkdir -p "$tmp/unpacked" "$tmp/elsewhere/deeper"
tar -xzf "$archive" -C "$tmp/unpacked" || fail "cannot unpack $archive"
[[ -d "$tmp/unpacked/moecheck-bundle" ]] || fail "the archive holds no moecheck-bundle/"
mv "$tmp/unpacked/moecheck-bundle" "$tmp/elsewhere/deeper/moved" || fail "cannot move it"
rm -rf "$tmp/unpacked"
b="$(cd "$tmp/elsewhere/deeper/moved" && pwd -P)"
for tree in "$build" "$src"; do
  [[ "$b/" != "$tree"/* ]] || fail "TMPDIR is inside $tree: nothing to prove"
done
echo "bundle unpacked and moved to $b:"
(cd "$b" && find . -type f -o -type l | sort | grep -v '^./cases/' | sed 's/^/  /')
echo "  ... and $(find "$b/cases" -type f | wc -l) catalog files in cases/"

for f in gate ci/gate MOECHECK_BUNDLE cases/models.yaml suites/cli/moecheck; do
  [[ -e "$b/$f" ]] || fail "the bundle lacks $f"
done
testbeds="$(sed -n 's/^testbed: //p' "$b/MOECHECK_BUNDLE")"
grep -q 'moecheck_cpu_tests$' <<<"$testbeds" || fail "MOECHECK_BUNDLE names no CPU testbed"

# ---- every ELF file: RUNPATH and where its libraries come from ----------------------------------
# Not carried, by design (ci/bundle/CMakeLists.txt): the base system and the GPU runtimes.
base='^(linux-vdso|ld-linux|libc|libm|libmvec|libdl|libpthread|librt|libutil|libresolv)[.-]'
base+='|^lib(stdc\+\+|gcc_s|atomic)[.]'
gpu='^lib(amdhip64|hsa-runtime64|amd_comgr|hiprtc|rocm_smi64|roctx64|roctracer64|rocprofiler)[.-]'
gpu+='|^lib(cuda|cudart|nvrtc|nvidia-ml|nvJitLink)[.-]'
elves=0
while IFS= read -r -d '' f; do
  [[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" == '177ELF' ]] || continue
  elves=$((elves + 1))
  rel="${f#"$b"/}"
  dyn="$(readelf -d "$f")" || fail "readelf -d $rel failed"
  runpath="$(sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]$/\2/p' <<<"$dyn")"
  for tree in "$build" "$src"; do
    [[ "$runpath" != *"$tree"* ]] || fail "$rel: RUNPATH $runpath points into $tree"
  done
  if [[ "$rel" != lib/* ]]; then
    # shellcheck disable=SC2016 # a literal $ORIGIN
    [[ "$runpath" == *'$ORIGIN/'* ]] || fail "$rel: RUNPATH '$runpath' has no \$ORIGIN"
  fi
  resolved="$(ldd "$f" 2>&1)" || fail "ldd $rel failed: $resolved"
  while read -r needed; do
    [[ -n "$needed" ]] || continue
    # "name => path (address)"; the dynamic loader, when a library names it (nvcc-linked ones
    # do), is listed by its path alone: "/lib64/ld-linux-x86-64.so.2 (address)".
    at="$(awk -v n="$needed" '($1 == n && $2 == "=>") { print $3 }
        (NF == 2 && substr($1, length($1) - length(n)) == "/" n) { print $1 }' <<<"$resolved")"
    [[ -n "$at" && "$at" != not ]] || fail "$rel needs $needed, which does not resolve: $resolved"
    real="$(readlink -f "$at")"
    for tree in "$build" "$src"; do
      [[ "$real" != "$tree"/* ]] || fail "$rel: $needed resolves into $tree ($real)"
    done
    if [[ -e "$b/lib/$needed" ]]; then
      [[ "$real" == "$b"/lib/* ]] || fail "$rel: $needed resolves to $real, not the bundle's lib/"
    elif ! grep -Eq "$base|$gpu" <<<"$needed"; then
      fail "$rel needs $needed ($real), which the bundle does not carry and a base system lacks"
    fi
    echo "  $rel: $needed -> $real"
  done < <(sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' <<<"$dyn")
done < <(find "$b" -type f -print0)
[[ $elves -ge 2 ]] || fail "only $elves ELF files in the bundle"
[[ -n "$(ls "$b/lib" 2>/dev/null)" ]] || echo "note: the bundle carries no shared library"

# ---- the default catalog is the bundle's -------------------------------------------------------
env -u MOECHECK_CATALOG "$b/suites/cpu/moecheck_cpu_tests" \
  --moecheck-ctest-file "$work/default.cmake" ||
  fail "the bundled CPU testbed cannot list its cases"
grep -qF -- "--catalog [==[$b/cases]==]" "$work/default.cmake" ||
  fail "the bundled testbed's default catalog is not the bundle's: $(head -n 1 "$work/default.cmake")"
env -u MOECHECK_CATALOG "$b/suites/cli/moecheck" list >"$work/list.txt" ||
  fail "the bundled moecheck list failed"
[[ -s "$work/list.txt" ]] || fail "the bundled moecheck list printed nothing"

# ---- the gate, from another working directory ----------------------------------------------------
"$b/gate" --build "$build" >/dev/null 2>&1 && fail "the bundle's gate took --build"
mkdir -p "$work/runner"
(cd "$work/runner" && "$b/gate" --labels cpu,smoke -j 2 --out reports) >"$work/gate.log" 2>&1
rc=$?
cat "$work/gate.log"
[[ $rc == 0 ]] || fail "the bundle's gate exited $rc"
grep -q '^ci/gate: PASS' "$work/gate.log" || fail "the gate did not say PASS"
for r in junit.xml results.json summary.json ctest.log; do
  [[ -s "$work/runner/reports/$r" ]] || fail "the gate wrote no reports/$r"
done
grep -q '"exit":0' "$work/runner/reports/summary.json" || fail "summary.json says no exit 0"
selected="$(sed -n 's/.*"selected":\([0-9]*\).*/\1/p' "$work/runner/reports/summary.json")"
[[ "${selected:-0}" -gt 0 ]] || fail "the gate selected no case"
for tree in "$build" "$src"; do
  if grep -rlF "$tree/" "$b/CTestTestfile.cmake" "$b/ctest"; then
    fail "the bundle's ctest entries name $tree"
  fi
done
grep -qF "$b/suites/cpu/moecheck_cpu_tests" "$b/ctest/moecheck_cpu_tests_cases.cmake" ||
  fail "the ctest entries do not run the moved bundle's testbed"
echo "OK: the moved bundle ran $selected CPU smoke case(s) and passed;" \
  "every library resolves from the bundle or the base system"
