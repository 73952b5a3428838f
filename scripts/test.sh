#!/usr/bin/env bash
# Runs linflow's tests: unit, property, integration and doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
cargo test --all-targets "$@"
cargo test --doc "$@"
