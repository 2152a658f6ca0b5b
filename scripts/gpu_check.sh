#!/usr/bin/env bash
# The one prepared check for a machine with an NVIDIA GPU and no network.
# Runs gpusetup from this source tree (PYTHONPATH=src) with the torch already installed there:
# doctor --json, the pastes people post (collect_env, nvidia-smi, nvidia-smi -q) read back by
# doctor --facts, verify --quick (JSON, then the table), the accuracy benchmark, verify --full, the
# doctor speed benchmark, then a summary. Most important first, each step under its own time limit,
# so a hang costs one step and a run stopped early still leaves what was done.
# Every file goes to a results folder (benchmarks/results/<gpu>-<date>/ unless RESULTS is set). When
# OUT is set (the device tool collects it; it takes back at most 8 files), the key files and a tarball
# of the whole folder are copied there after each step.
# It never changes the card's settings (no clocks, power limits, modes or resets).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1 | tr ' ' '-' | tr -cd 'A-Za-z0-9_.-')
name="${gpu:-unknown-gpu}-$(date -u +%Y-%m-%d)"
if [ -n "${OUT:-}" ]; then
  RESULTS=${RESULTS:-$(mktemp -d)/$name}
else
  RESULTS=${RESULTS:-benchmarks/results/$name}
fi
mkdir -p "$RESULTS"
echo "gpu_check: writing to $RESULTS (commit it as benchmarks/results/$name)"

collect() {  # the key files and a tarball of everything, into $OUT (at most 8 files come back)
  [ -n "${OUT:-}" ] || return 0
  mkdir -p "$OUT"
  for f in steps.txt summary.txt doctor.out verify-quick.out verify-full.out accuracy.out; do
    [ -f "$RESULTS/$f" ] && cp "$RESULTS/$f" "$OUT/$f"
  done
  tar -czf "$OUT/results.tar.gz" -C "$(dirname "$RESULTS")" "$name"
}

step() {  # name, seconds, command...: stdout, stderr, exit code and wall time of each step
  local label=$1 limit=$2; shift 2
  local start=$(date +%s%N)
  timeout --kill-after=10 "$limit" "$@" >"$RESULTS/$label.out" 2>"$RESULTS/$label.err"
  local code=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%s exit=%s seconds=%d.%03d%s\n' "$label" "$code" $((ms / 1000)) $((ms % 1000)) \
    "$([ "$code" = 124 ] && echo " (stopped at its ${limit} s limit)")" | tee -a "$RESULTS/steps.txt"
  collect
}

{ nvidia-smi; nvidia-smi -q -d CLOCK,POWER,PERFORMANCE; "$PY" -c 'import torch, sys; print(sys.version); print(torch.__version__, torch.version.cuda)'; } \
  >"$RESULTS/environment.txt" 2>&1
# What people paste into issues, recorded on this machine (unedited) and read back by doctor --facts.
timeout 120 "$PY" -m torch.utils.collect_env >"$RESULTS/paste-collect-env.txt" 2>&1
nvidia-smi >"$RESULTS/paste-nvidia-smi.txt" 2>&1
nvidia-smi -q >"$RESULTS/paste-nvidia-smi-q.txt" 2>&1
nvidia-smi -L >"$RESULTS/paste-nvidia-smi-l.txt" 2>&1
step doctor 120 "$PY" -m gpusetup doctor --json
step doctor-text 120 env COLUMNS=110 "$PY" -m gpusetup doctor
step paste-collect-env 60 env COLUMNS=110 "$PY" -m gpusetup doctor --facts "$RESULTS/paste-collect-env.txt"
step paste-nvidia-smi-q 60 env COLUMNS=110 "$PY" -m gpusetup doctor --facts "$RESULTS/paste-nvidia-smi-q.txt"
step paste-nvidia-smi 60 env COLUMNS=110 "$PY" -m gpusetup doctor --facts "$RESULTS/paste-nvidia-smi.txt" --markdown
step paste-nvidia-smi-l 60 env COLUMNS=110 "$PY" -m gpusetup doctor --facts "$RESULTS/paste-nvidia-smi-l.txt"
step verify-quick 120 "$PY" -m gpusetup verify --quick --json --junit "$RESULTS/verify-quick.xml"
step verify-quick-text 120 env COLUMNS=140 "$PY" -m gpusetup verify --quick
step accuracy 240 "$PY" benchmarks/verify_accuracy.py --device 0 --dtype fp32,tf32,bf16,fp16
step verify-full 300 "$PY" -m gpusetup verify --full --json --junit "$RESULTS/verify-full.xml" --timeout 280
step doctor-speed 120 "$PY" benchmarks/doctor_speed.py --runs 3

"$PY" - "$RESULTS" <<'PYEOF' | tee "$RESULTS/summary.txt"
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
    startup = [d.get("startup_seconds") for d in report.get("devices", [])]
    print(f"verify --{mode}: passed={report.get('passed')} seconds={report.get('seconds')} "
          f"(benchmark child start-up: torch import + CUDA init {startup} s)")
    for r in report.get("results", []):
        frac = r.get("fraction_of_peak")
        err = r.get("error_vs_fp64")
        print(f"  gpu{r['gpu']} {r['benchmark']:<9} {r['dtype']:<9} {r['value'] if r['value'] is not None else '-':>10} "
              f"{r['unit']:<8} {'' if frac is None else f'{frac:.0%}':>5} {'' if err is None else f'{err:.1e}':>8} "
              f"{'ok' if r['ok'] else 'FAIL'} {r['reason'][:70]}")
for name in ("accuracy", "verify-quick-text"):
    path = out / f"{name}.out"
    print(path.read_text() if path.exists() else f"no {name} output")
steps = (out / "steps.txt").read_text()
print(steps)
for line in steps.splitlines():  # the goal (issue 11): quick run, start-up and cold compile included, <= 40 s
    if line.startswith("verify-quick"):
        took = float(line.split("seconds=")[1].split()[0])
        print(f"{line.split()[0]}: {took:.1f} s wall, goal <= 40 s: {'met' if took <= 40 else 'MISSED'}")
for line in steps.splitlines():  # why a step failed: the end of its stderr
    label, code = line.split()[0], line.split()[1]
    failed = code not in ("exit=0", "exit=1") or not (out / f"{label}.out").read_text().strip()
    if failed and code != "exit=0" and (out / f"{label}.err").exists():
        tail = (out / f"{label}.err").read_text().strip().splitlines()[-3:]
        print(f"{label} {code}:", *tail, sep="\n  ")
PYEOF
collect
