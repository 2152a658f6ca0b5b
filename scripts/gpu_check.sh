#!/usr/bin/env bash
# The one prepared check for a machine with an NVIDIA GPU and no network.
# Runs gpusetup from this source tree (PYTHONPATH=src) with the torch already installed there:
# doctor --json, verify --quick --json, verify --full --json, the accuracy benchmark, then a summary.
# Files go to $OUT when set (the device tool collects it), else to benchmarks/results/<gpu>-<date>/.
# It never changes the card's settings (no clocks, power limits, modes or resets).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src
PY=${PYTHON:-python3}

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1 | tr ' ' '-' | tr -cd 'A-Za-z0-9_.-')
stamp=$(date -u +%Y-%m-%d)
OUT=${OUT:-benchmarks/results/${gpu:-unknown-gpu}-${stamp}}
mkdir -p "$OUT"
echo "gpu_check: writing to $OUT"

run() {  # name, command...: keep stdout, stderr, exit code and wall time of each step
  local name=$1; shift
  local start=$(date +%s%N)
  "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
  local code=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%s exit=%s seconds=%d.%03d\n' "$name" "$code" $((ms / 1000)) $((ms % 1000)) | tee -a "$OUT/steps.txt"
}

{ nvidia-smi; "$PY" -c 'import torch, sys; print(sys.version); print(torch.__version__, torch.version.cuda)'; } \
  >"$OUT/environment.txt" 2>&1
run doctor "$PY" -m gpusetup doctor --json
run doctor-text env COLUMNS=110 "$PY" -m gpusetup doctor
run verify-quick "$PY" -m gpusetup verify --quick --json --junit "$OUT/verify-quick.xml"
run verify-full "$PY" -m gpusetup verify --full --json --junit "$OUT/verify-full.xml"
run verify-quick-text env COLUMNS=140 "$PY" -m gpusetup verify --quick
run accuracy "$PY" benchmarks/verify_accuracy.py --device 0 --dtype fp32,tf32,bf16,fp16
run doctor-speed "$PY" benchmarks/doctor_speed.py --runs 3

"$PY" - "$OUT" <<'PYEOF'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
def load(name):
    try:
        return json.loads((out / f"{name}.out").read_text())
    except Exception as err:
        return {"error": str(err)}
doctor = load("doctor")
print("\n== summary ==")
facts = doctor.get("facts", {})
print("driver", facts.get("driver", {}).get("version"), "cuda", facts.get("driver", {}).get("cuda_version"),
      "torch", facts.get("torch", {}).get("version"))
for f in doctor.get("findings", []):
    print(f"  doctor {f['severity']:<7} {f['id']}")
for mode in ("quick", "full"):
    report = load(f"verify-{mode}")
    print(f"verify --{mode}: passed={report.get('passed')} seconds={report.get('seconds')}")
    for r in report.get("results", []):
        frac = r.get("fraction_of_peak")
        print(f"  gpu{r['gpu']} {r['benchmark']:<9} {r['dtype']:<5} {r['value'] if r['value'] is not None else '-':>10} "
              f"{r['unit']:<8} {'' if frac is None else f'{frac:.0%}':>5} {'ok' if r['ok'] else 'FAIL'} {r['reason'][:70]}")
print((out / "accuracy.out").read_text() if (out / "accuracy.out").exists() else "no accuracy output")
print((out / "steps.txt").read_text())
PYEOF
