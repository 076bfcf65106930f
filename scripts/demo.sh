#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh), then runs the demo: a private mosquitto and QUIC
# relay, publish and subscribe over every transport with every adapter, telemetry counters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python examples/demo.py
