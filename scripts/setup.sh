#!/usr/bin/env bash
# Prepares a fresh machine: the mosquitto broker (Debian package) and a virtual environment with
# the project and everything its tests, benchmarks and docs use. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update && apt-get install -y mosquitto
  else
    sudo apt-get update && sudo apt-get install -y mosquitto
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,docs,bench]'
