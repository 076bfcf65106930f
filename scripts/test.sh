#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every check: ruff, mypy --strict, the test suite against a
# private mosquitto with the coverage gate of emqtt_core.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python

echo "== ruff"
"$PY" -m ruff check emqtt_core adapters telemetry tests examples benchmarks tools
echo "== mypy --strict"
"$PY" -m mypy --strict emqtt_core adapters telemetry
echo "== pytest"
# Most tests wait on a broker or a socket: four workers keep two cores busy.
"$PY" -m pytest -n 4 --cov --cov-report=term "$@"
