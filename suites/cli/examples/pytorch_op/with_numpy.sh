#!/bin/sh
# with_numpy.sh PREFERRED SCRIPT [ARGS...]: the Python of the exchange tests (exchange.numpy_op_*,
# suites/cli/CMakeLists.txt). Runs SCRIPT with PREFERRED (MOECHECK_NUMPY_PYTHON, by default
# Debian's /usr/bin/python3) when it can import NumPy, else with `python3` on PATH when that can
# (a GPU machine's own Python, say); when neither can, prints which Pythons were tried and why,
# and exits 77, which ctest reports as skipped (SKIP_RETURN_CODE), never as passed or failed.
preferred="$1"
shift
tried=""
for py in "$preferred" python3; do
  if ! path="$(command -v "$py" 2>/dev/null)"; then
    tried="$tried
  $py: not found"
    continue
  fi
  if why="$("$path" -c 'import numpy; print(numpy.__version__)' 2>&1)"; then
    echo "with_numpy.sh: $path (NumPy $why)"
    exec "$path" "$@"
  fi
  tried="$tried
  $path: $(printf '%s\n' "$why" | tail -n 1)"
done
echo "SKIPPED: no Python with NumPy for $(basename -- "${1:-?}") (Debian: apt-get install python3-numpy); tried:$tried"
exit 77
