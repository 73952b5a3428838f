#!/usr/bin/env bash
# Installs the one system package linflow's build needs on a fresh Debian/Ubuntu machine:
# m4, used by the GMP build inside rug (MPFR arithmetic). Sourced by the other scripts.
set -euo pipefail
if ! command -v m4 >/dev/null 2>&1; then
  echo "linflow: installing m4 (needed to build GMP for rug)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq m4 >/dev/null
fi
