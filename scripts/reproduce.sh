#!/usr/bin/env bash
# linflow's main job: every named experiment with its checks and figures, into out/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
out="${1:-out}"
shift || true
cargo run --release --bin linflow -- reproduce all --out "$out" "$@"
