#!/usr/bin/env bash
# Executes every notebook in notebooks/ headlessly with the evcxr Jupyter kernel and fails on the
# first cell error. Installs what is missing:
#   - jupyter, nbconvert, nbclient and ipykernel from pip, into a virtualenv
#     ($LINFLOW_NB_VENV, default target/notebook-venv; ~20 s);
#   - evcxr_jupyter with `cargo install --locked` (~25 min on 2 cores, once per machine);
#   - the `rust` kernel spec (`evcxr_jupyter --install`).
# Executed copies go to $LINFLOW_NB_OUT (default: a temporary directory); the notebooks in the
# repository are left untouched. All notebooks share one evcxr build directory
# ($EVCXR_TMPDIR, default target/evcxr-notebooks), so linflow and its dependencies compile once.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh

root="$PWD"
venv="${LINFLOW_NB_VENV:-$root/target/notebook-venv}"
out="${LINFLOW_NB_OUT:-$(mktemp -d)}"
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-$root/target/evcxr-notebooks}"
mkdir -p "$out" "$EVCXR_TMPDIR"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v python3 >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv >/dev/null
fi
if [ ! -x "$venv/bin/jupyter-nbconvert" ]; then
  echo "notebooks: installing jupyter, nbconvert, nbclient and ipykernel into $venv" >&2
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian/Ubuntu ship venv support separately.
    rm -rf "$venv"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q jupyter nbconvert nbclient ipykernel
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v evcxr_jupyter >/dev/null 2>&1; then
  echo "notebooks: installing evcxr_jupyter (cargo install --locked; ~25 min on 2 cores)" >&2
  cargo install --locked evcxr_jupyter
fi
if ! "$venv/bin/jupyter" kernelspec list 2>/dev/null | grep -Eq '^\s*rust\s'; then
  evcxr_jupyter --install >/dev/null
fi

# nbconvert fails on compile errors, but evcxr catches a panic (a failed assert! or unwrap) and
# only prints it to stderr: look for those in the executed copy as well.
check_outputs() {
  "$venv/bin/python" - "$1" <<'PY'
import json, sys
nb = json.load(open(sys.argv[1]))
bad = []
for i, cell in enumerate(nb["cells"]):
    for o in cell.get("outputs", []):
        text = "".join(o.get("text", "")) if o.get("output_type") == "stream" else ""
        if o.get("output_type") == "error" or "panicked at" in text:
            bad.append(f"cell {i}: {o.get('ename', '')} {text.strip()}".strip())
for b in bad:
    print("notebooks: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

status=0
for nb in notebooks/*.ipynb; do
  start=$(date +%s)
  echo "notebooks: running $nb" >&2
  if "$venv/bin/jupyter" nbconvert --to notebook --execute \
      --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=rust \
      --output-dir "$out" "$nb" && check_outputs "$out/$(basename "$nb")"; then
    echo "notebooks: ok   $nb ($(( $(date +%s) - start )) s)" >&2
  else
    echo "notebooks: FAIL $nb ($(( $(date +%s) - start )) s)" >&2
    status=1
  fi
done
echo "notebooks: executed copies in $out" >&2
exit $status
