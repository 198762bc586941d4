#!/usr/bin/env bash
# Set up (or reuse) the local virtual environment, then run a task:
#   ./dev.sh demo    retrain + deploy on the built-in demo market (offline), then serve the API
#                    with the scheduler on 127.0.0.1:8000 (Ctrl-C stops it)
#   ./dev.sh check   lint (ruff check), formatting (ruff format --check) and types (mypy, src/)
#   ./dev.sh test    the whole test suite, slow tests included
#   ./dev.sh bench   every benchmark in bench/ (about 40 minutes; figures also in bench/results/)
#   ./dev.sh lock    re-resolve requirements.lock after changing pyproject.toml
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PY=${PYTHON:-python3}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  if [ ! -x "$VENV/bin/uv" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
  fi
  # Exactly the tested versions, verified by hash; then the project itself, editable.
  # Byte-compiled at install: where PYTHONDONTWRITEBYTECODE is set, nothing else ever writes
  # .pyc files, and every command would recompile pandas and LightGBM from source (4 s).
  if [ ! -f "$VENV/.synced" ] || [ requirements.lock -nt "$VENV/.synced" ] || [ pyproject.toml -nt "$VENV/.synced" ] || [ dev.sh -nt "$VENV/.synced" ]; then
    "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --require-hashes -r requirements.lock
    "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --no-deps -e .
    "$VENV/bin/python" -m compileall -q -j 0 "$VENV/lib" src >/dev/null || true
    touch "$VENV/.synced"
  fi
}

task=${1:-}
[ $# -gt 0 ] && shift
case "$task" in
  demo)  setup
         "$VENV/bin/trading-engine" demo "$@" || echo "(the demo retrain did not deploy; serving anyway)"
         exec "$VENV/bin/trading-engine" serve ;;
  check) setup
         "$VENV/bin/ruff" check src tests bench
         "$VENV/bin/ruff" format --check src tests bench
         "$VENV/bin/python" -m mypy ;;
  test)  setup; exec "$VENV/bin/python" -m pytest -n 2 "$@" ;;
  bench) setup
         for b in features retrain scale serve gates startup store replay dashboard; do "$VENV/bin/python" "bench/$b.py"; done ;;
  lock)  setup; "$VENV/bin/uv" pip compile --quiet --python-version 3.11 --extra dev \
           --generate-hashes --no-header --no-emit-index-url -o requirements.lock pyproject.toml ;;
  *) echo "usage: ./dev.sh demo|check|test|bench|lock" >&2; exit 2 ;;
esac
