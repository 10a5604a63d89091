#!/usr/bin/env python3
"""ctest driver of the example (suites/cli/CMakeLists.txt): the whole round trip of an
implementation that lives elsewhere, and proof that the verdict means something.

    check_example.py --moecheck BIN --case SUITE.NAME --work DIR

1. `moecheck dump` the case into DIR/dump;
2. run the NumPy stand-in op (numpy_op.py) on it -> DIR/out.npy;
3. `moecheck verify` must pass (exit 0);
4. one element of a computed row, corrupted, must fail (exit 1) naming that row and column;
5. a truncated output file must be refused as bad input (exit 2) naming the file.
"""
import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import numpy as np
except ImportError as e:  # with_numpy.sh picks a Python with NumPy; run by hand, say so: a skip
    print(f"SKIPPED: NumPy is missing for {sys.executable} ({e}): "
          "ci/install-deps.sh installs python3-numpy")
    sys.exit(77)

HERE = Path(__file__).resolve().parent


def run(cmd, expect_rc):
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    print(p.stdout + p.stderr, end="", flush=True)
    if p.returncode != expect_rc:
        sys.exit(f"FAILED: exit {p.returncode}, expected {expect_rc}")
    return p.stdout + p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moecheck", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--work", required=True, type=Path)
    args = ap.parse_args()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    dump, out = work / "dump", work / "out.npy"

    run([args.moecheck, "dump", "--case", args.case, "--out", dump], 0)
    case = json.loads((dump / "case.json").read_text())["case"]
    stage = case["stage"]
    run([sys.executable, HERE / "numpy_op.py", dump, out], 0)
    verify = [args.moecheck, "verify", "--dir", dump, "--stage", stage, "--output"]
    text = run(verify + [out], 0)
    if '"outcome":"Passed"' not in text:
        sys.exit("FAILED: verify exited 0 without a Passed result line")

    # One element of a computed row, far off: verify must name exactly that element.
    bits = np.load(out)
    raw = bits.view(np.uint16)
    written = np.flatnonzero((raw != 0xFFFF).any(axis=1))
    if written.size == 0:
        sys.exit("FAILED: the op computed no row")
    row, col = int(written[len(written) // 2]), raw.shape[1] // 3
    raw[row, col] ^= 0x4000  # flips the exponent's top bit: a huge or tiny value
    bad = work / "corrupted.npy"
    np.save(bad, bits)
    text = run(verify + [bad], 1)
    want = f"at row {row}, column {col}:"
    if want not in text or '"outcome":"Incorrect"' not in text:
        sys.exit(f"FAILED: verify did not report the corrupted element ({want!r})")

    # A truncated file is bad input, not a verdict.
    cut = work / "truncated.npy"
    cut.write_bytes(out.read_bytes()[:-7])
    text = run(verify + [cut], 2)
    if "truncated.npy: data is truncated" not in text:
        sys.exit("FAILED: the truncated output was not refused naming the file")
    print("OK: passed clean, failed at the corrupted element, refused the truncated file")


if __name__ == "__main__":
    main()
