#!/usr/bin/env python3
"""ctest driver (report.diff_planted_regression): `moecheck diff` finds exactly the regressions
planted between two real runs, through the real path.

    planted_regression.py --moecheck BIN --catalog DIR --numpy-op numpy_op.py --work DIR
                          --case A --case B --case C --case D

Two runs of the same four cases, each an honest run on the CPU: `moecheck dump` the case, compute
its output with the NumPy stand-in op (suites/cli/examples/pytorch_op/numpy_op.py), `moecheck
verify` it with $MOECHECK_RESULTS set to the run's results file, write the run's tests.json, and
`moecheck coverage`. Run 1: every output as computed. Run 2: A's output corrupted (Incorrect),
B's output moved towards its bound (still Passed, margin grown by > 0.05 and > 25 %), C not run,
D as computed. Then:
  diff run1 run2  -> exit 1, listing exactly A (new failure), B (margin grew), C (coverage lost);
  diff run1 run1  -> exit 0;
  a malformed or missing coverage.json -> exit 2 naming the file.
Without NumPy: skipped (exit 77) with the reason.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import numpy as np
except ImportError as e:
    print(f"SKIPPED: NumPy is missing for {sys.executable} ({e}): ci/install-deps.sh installs "
          "python3-numpy")
    sys.exit(77)


def fail(msg):
    print("FAILED: " + msg, flush=True)
    sys.exit(1)


def run(cmd, expect_rc=None, env=None, quiet=False):
    cmd = [str(c) for c in cmd]
    if not quiet:
        print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if not quiet:
        print(p.stdout + p.stderr, end="", flush=True)
    if expect_rc is not None and p.returncode != expect_rc:
        if quiet:
            print(p.stdout + p.stderr, end="", flush=True)
        fail(f"{cmd[0]} {cmd[1]} exited {p.returncode}, expected {expect_rc}")
    return p


def result_line(text):
    m = re.search(r"^moecheck-result (\{.*\})$", text, re.M)
    if not m:
        fail("verify printed no result line")
    return json.loads(m.group(1))


def magnitudes(arr):
    """|value| of every element of an output (bf16 as uint16 bits, or float16)."""
    if arr.dtype == np.uint16:
        return np.abs((arr.astype(np.uint32) << 16).view(np.float32))
    return np.abs(arr.astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moecheck", required=True)
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--numpy-op", required=True)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--case", action="append", required=True)
    args = ap.parse_args()
    if len(args.case) != 4:
        fail("four cases are needed: failing, margin grown, missing, unchanged")
    mc = args.moecheck
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base_env = dict(os.environ, MOECHECK_CATALOG=args.catalog)
    base_env.pop("MOECHECK_RESULTS", None)

    # Dump and compute every case once.
    cases = {}
    for name in args.case:
        d = work / "dumps" / name.replace(".", "_")
        run([mc, "dump", "--case", name, "--out", d], 0, env=base_env)
        out = d / "out.npy"
        run([sys.executable, args.numpy_op, d, out], 0, env=base_env)
        stage = json.loads((d / "case.json").read_text())["case"]["stage"]
        cases[name] = (d, stage, out)

    def verify(name, output, results=None, expect_rc=None, quiet=False):
        d, stage, _ = cases[name]
        env = dict(base_env)
        if results:
            env["MOECHECK_RESULTS"] = str(results)
        p = run([mc, "verify", "--dir", d, "--stage", stage, "--output", output], expect_rc,
                env=env, quiet=quiet)
        return result_line(p.stdout)

    a, b, c, d_ = args.case
    # Run 1: all four as computed.
    run1 = work / "run1"
    run1.mkdir()
    margins = {}
    for name in args.case:
        margins[name] = verify(name, cases[name][2], run1 / "results.jsonl", 0)["margin"]
    (run1 / "tests.json").write_text(json.dumps(
        [{"name": n, "status": "run"} for n in args.case]))

    # Run 2: A corrupted, B moved towards its bound, C absent, D as computed.
    run2 = work / "run2"
    run2.mkdir()
    bits = np.load(cases[a][2])
    raw = bits.view(np.uint16)
    rows = np.flatnonzero((raw != 0xFFFF).any(axis=1))
    raw[rows[len(rows) // 2], raw.shape[1] // 3] ^= 0x4000
    bad = work / "a_corrupted.npy"
    np.save(bad, bits)
    line = verify(a, bad, run2 / "results.jsonl", 1)
    if line["outcome"] != "Incorrect":
        fail(f"the corrupted output of {a} is {line['outcome']}, not Incorrect")

    # B: one element a few ulps larger in magnitude, the first that grows the margin clearly
    # while staying within the bound (searched over the largest elements).
    m0 = margins[b]
    base = np.load(cases[b][2])
    mag = magnitudes(base.view(np.uint16) if base.dtype == np.uint16 else base)
    order = np.argsort(-np.where(base.view(np.uint16) == 0xFFFF, 0, mag), axis=None)
    grown = None
    for flat in order[:24]:
        for ulps in (1, 2, 3, 4, 6, 8):
            moved = base.copy()
            r = moved.view(np.uint16).reshape(-1)
            r[flat] = r[flat] + ulps
            candidate = work / "b_moved.npy"
            np.save(candidate, moved)
            got = verify(b, candidate, quiet=True)
            if got["outcome"] != "Passed":
                break
            if got["margin"] > m0 + 0.1 and got["margin"] > 1.3 * m0:
                grown = got["margin"]
                break
        if grown is not None:
            break
    if grown is None:
        fail(f"no output of {b} within its bound grows its margin from {m0} by > 0.1")
    print(f"{b}: margin {m0} -> {grown} (element moved, still within its bound)", flush=True)
    verify(b, work / "b_moved.npy", run2 / "results.jsonl", 0)
    verify(d_, cases[d_][2], run2 / "results.jsonl", 0)
    (run2 / "tests.json").write_text(json.dumps(
        [{"name": a, "status": "fail"}, {"name": b, "status": "run"},
         {"name": d_, "status": "run"}]))

    for r in (run1, run2):
        run([mc, "coverage", "--results", r / "results.jsonl", "--tests", r / "tests.json",
             "--catalog", args.catalog, "--out", r], 0, env=base_env)
        for f in ("coverage.json", "coverage.md", "coverage.html"):
            if not (r / f).is_file() or (r / f).stat().st_size == 0:
                fail(f"{r / f} was not written")
    cov2 = json.loads((run2 / "coverage.json").read_text())
    outcomes = {x["test"]: x["outcome"] for x in cov2["cases"]}
    if outcomes != {a: "Incorrect", b: "Passed", d_: "Passed"}:
        fail(f"run 2's coverage.json has {outcomes}")

    # The diff lists exactly the three planted regressions.
    md = work / "diff.md"
    p = run([mc, "diff", run1 / "coverage.json", run2 / "coverage.json", "--out", md], 1)
    sections, current = {}, None
    for text_line in p.stdout.splitlines():
        if text_line.startswith("  "):
            sections.setdefault(current, []).append(text_line.strip())
        elif text_line.endswith(":") and "(" in text_line:
            current = text_line.split(" (")[0]
    want = {
        "new failures": [f"{a}: Passed -> Incorrect"],
        "margins that grew": [f"{b} {cases[b][1]}: margin"],
        "coverage lost": [f"{c}: Passed -> missing"],
    }
    if set(sections) != set(want):
        fail(f"diff sections {sorted(sections)}, expected {sorted(want)}")
    for title, starts in want.items():
        got = sections[title]
        if len(got) != 1 or not got[0].startswith(starts[0]):
            fail(f"diff section '{title}' lists {got}, expected one entry starting {starts[0]!r}")
    if "3 regression(s)" not in p.stdout:
        fail("the diff does not count 3 regressions")
    if not md.is_file() or a not in md.read_text():
        fail(f"{md} was not written or does not name {a}")

    p = run([mc, "diff", run1 / "coverage.json", run1 / "coverage.json"], 0)
    if "no regression" not in p.stdout:
        fail("identical runs: no 'no regression'")

    broken = work / "broken" / "coverage.json"
    broken.parent.mkdir()
    broken.write_text((run2 / "coverage.json").read_text()[:200])
    p = run([mc, "diff", run1 / "coverage.json", broken], 2)
    if f"{broken}: not valid JSON" not in p.stderr:
        fail("a malformed coverage.json is not refused naming the file")
    missing = work / "no_such" / "coverage.json"
    p = run([mc, "diff", missing, run1 / "coverage.json"], 2)
    if f"{missing}: cannot read" not in p.stderr:
        fail("a missing coverage.json is not refused naming the file")
    notcov = work / "results_not_coverage.json"
    notcov.write_text("[]")
    p = run([mc, "diff", notcov, run1 / "coverage.json"], 2)
    if str(notcov) not in p.stderr:
        fail("a JSON file that is no coverage.json is not refused naming the file")
    print("OK: the diff found exactly the planted new failure, grown margin and lost case; "
          "identical runs: exit 0; malformed input: exit 2 naming the file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
