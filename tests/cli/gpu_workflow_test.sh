#!/usr/bin/env bash
# The GPU workflow of echosim without a GPU: kernel calibration files, --compute-backend gpu
# and `echosim validate --on-gpu`, run against tests/cli/fake_echosim_kernels.py, a stand-in
# for the echosim-kernels harness with synthetic, formula-made durations. These check the
# plumbing (files, caching, errors, reports), not accuracy: nothing here is a measurement.
# usage: ECHOSIM=path/to/echosim gpu_workflow_test.sh REPO_ROOT
set -u
root=$1
bin=${ECHOSIM:?set ECHOSIM to the echosim binary}
# shellcheck source=expect.sh
source "$root/tests/cli/expect.sh"

if ! command -v python3 >/dev/null; then echo "SKIP: python3 is needed by the fake harness"; exit 77; fi
fake="$root/tests/cli/fake_echosim_kernels.py"
export XDG_CACHE_HOME="$tmp/cache" FAKE_KERNELS_LOG="$tmp/harness.log"
unset FAKE_KERNELS_MODE
small=(--model llama3-8b --gpu h100-sxm --gpus 8 --tp 2 --global-batch 16 --seq-len 2048)

# Without a harness: a clear message saying how to build it (unless a real one was built
# beside echosim, which would be found).
beside=0; [ -x "$(dirname "$bin")/echosim-kernels" ] && beside=1
if [ "$beside" = 0 ]; then
  expect 1 "ninja -C build echosim-kernels" -- env -u ECHOSIM_KERNELS "$bin" train "${small[@]}" --compute-backend gpu
fi
expect 1 "ECHOSIM_KERNELS='$tmp/nope' is not an executable" -- env ECHOSIM_KERNELS="$tmp/nope" "$bin" train "${small[@]}" --compute-backend gpu
expect 2 "simulation.compute_backend (--compute-backend): unknown value 'cuda'; valid choices: model, gpu" -- \
  "$bin" train "${small[@]}" --compute-backend cuda
export ECHOSIM_KERNELS="$fake"

# The default: the datasheet roofline, said in the summary.
expect 0 '"compute": "built-in datasheet roofline"' -- "$bin" train "${small[@]}" --json
expect 0 '"compute_backend": "model"' -- "$bin" train "${small[@]}" --json
expect 0 "compute model        built-in datasheet roofline" -- "$bin" train "${small[@]}"

# --compute-backend gpu: every distinct shape measured once, then from the cache.
expect 0 '"compute_device": "FAKE GPU (synthetic timings)"' -- "$bin" train "${small[@]}" --compute-backend gpu --json
measures=$(grep -c '^measure ' "$tmp/harness.log")
[ "$measures" = 1 ] && echo "ok: one measure call" || fail "measure ran $measures times"
shapes=$(awk '/^measure /{print $2}' "$tmp/harness.log")
cached=$(wc -l < "$tmp/cache/echosim/kernel-times.jsonl")
[ "$shapes" -gt 10 ] && [ "$shapes" = "$cached" ] && echo "ok: $shapes shapes measured and cached" || fail "shapes $shapes, cached $cached"
# Distinct: no shape twice in the measured list.
dups=$(python3 -c 'import json,sys; k=[json.loads(l)["key"] for l in open(sys.argv[1])]; print(len(k)-len(set(k)))' "$tmp/cache/echosim/kernel-times.jsonl")
[ "$dups" = 0 ] && echo "ok: no shape measured twice" || fail "$dups shapes measured twice"
expect 0 "\"from_cache\": $shapes" -- "$bin" train "${small[@]}" --compute-backend gpu --json
[ "$(grep -c '^measure ' "$tmp/harness.log")" = 1 ] && echo "ok: second run measured nothing" || fail "second run measured again"
expect 0 "compute backend      gpu: kernels measured on FAKE GPU" -- "$bin" train "${small[@]}" --compute-backend gpu
# Two echosim processes sharing a cache measure one at a time: the second finds the first's
# shapes in the cache instead of measuring them again (the fake harness takes 1 s to measure).
: > "$tmp/harness2.log"
FAKE_KERNELS_LOG="$tmp/harness2.log" FAKE_KERNELS_SLEEP=1 "$bin" train "${small[@]}" --compute-backend gpu --kernel-cache "$tmp/shared.jsonl" --json > "$tmp/p1.json" &
p1=$!
FAKE_KERNELS_LOG="$tmp/harness2.log" FAKE_KERNELS_SLEEP=1 "$bin" train "${small[@]}" --compute-backend gpu --kernel-cache "$tmp/shared.jsonl" --json > "$tmp/p2.json" &
p2=$!
wait $p1 && wait $p2 && echo "ok: both concurrent runs finished" || fail "a concurrent run failed"
[ "$(grep -c '^measure ' "$tmp/harness2.log")" = 1 ] && echo "ok: concurrent runs measured once" || fail "concurrent runs measured $(grep -c '^measure ' "$tmp/harness2.log") times"
[ "$(wc -l < "$tmp/shared.jsonl")" = "$shapes" ] && echo "ok: shared cache holds each shape once" || fail "shared cache has $(wc -l < "$tmp/shared.jsonl") lines, want $shapes"
# A different plan adds only its new shapes; --kernel-cache names another cache.
expect 0 '"measured": ' -- "$bin" train "${small[@]}" --tp 4 --compute-backend gpu --json
expect 0 "\"measured\": $shapes" -- "$bin" train "${small[@]}" --compute-backend gpu --kernel-cache "$tmp/other.jsonl" --json
[ -s "$tmp/other.jsonl" ] && echo "ok: --kernel-cache file written" || fail "--kernel-cache file missing"
# The measured step is the fake's synthetic durations, not the model's: they differ.
a=$("$bin" train "${small[@]}" --json | grep '"step_time_s"')
b=$("$bin" train "${small[@]}" --compute-backend gpu --json | grep '"step_time_s"')
[ -n "$a" ] && [ "$a" != "$b" ] && echo "ok: gpu backend changes the step time" || fail "gpu backend step time $b == model $a"
# Deterministic: the same cache gives the same answer.
c=$("$bin" train "${small[@]}" --compute-backend gpu --json | grep '"step_time_s"')
[ "$b" = "$c" ] && echo "ok: gpu backend deterministic" || fail "gpu backend differs: $b vs $c"
# `run` takes the flags too, and the scenario field.
expect 0 '"compute_backend": "gpu"' -- "$bin" run "$root/scenarios/llama3-70b-h100-64.yaml" --compute-backend gpu --json
expect 0 '"compute_backend": "gpu"' -- "$bin" run "$root/scenarios/llama3-70b-h100-64.yaml" --set simulation.compute_backend=gpu --json

# Plan search simulates on threads: one harness at a time, so no shape is measured twice.
search=(--model llama3-8b --gpu h100-sxm --gpus 8 --global-batch 16 --seq-len 2048 --tp 1,2 --pp 1,2 --vpp 1
        --cp 1 --micro-batch 1 --recompute none --threads 4 --set simulation.compute_backend=gpu
        --set "simulation.kernel_cache=$tmp/search.jsonl" --json)
expect 0 '"considered": 4' -- "$bin" search "${search[@]}"
dups=$(python3 -c 'import json,sys; k=[json.loads(l)["key"] for l in open(sys.argv[1])]; print(len(k)-len(set(k)))' "$tmp/search.jsonl")
[ "$dups" = 0 ] && echo "ok: search measured no shape twice" || fail "search measured $dups shapes twice"

# Harness errors: no GPU (exit 3), malformed output (names the line).
expect 1 "no CUDA device" -- env FAKE_KERNELS_MODE=nogpu "$bin" train "${small[@]}" --compute-backend gpu --kernel-cache none
expect 1 "malformed harness output: echosim-kernels measure output:2: not valid JSON" -- \
  env FAKE_KERNELS_MODE=malformed "$bin" train "${small[@]}" --compute-backend gpu --kernel-cache none

# Kernel calibration files (written by the fake calibrate into the temp folder only).
"$fake" calibrate --gpu h100-sxm --out "$tmp/h100-sxm.yaml" || fail "fake calibrate"
expect 0 "\"compute\": \"$tmp/h100-sxm.yaml (h100-sxm, FAKE GPU (synthetic timings), 1970-01-01T00:00:00Z)\"" -- \
  "$bin" train "${small[@]}" --kernel-calibration "$tmp/h100-sxm.yaml" --json
expect 0 "compute model        $tmp/h100-sxm.yaml (h100-sxm" -- "$bin" train "${small[@]}" --kernel-calibration "$tmp/h100-sxm.yaml"
expect 0 '"compute": "built-in datasheet roofline"' -- "$bin" train "${small[@]}" --kernel-calibration none --json
d=$("$bin" train "${small[@]}" --kernel-calibration "$tmp/h100-sxm.yaml" --json | grep '"step_time_s"')
[ -n "$d" ] && [ "$d" != "$a" ] && echo "ok: calibration changes the step time" || fail "calibration step time $d == $a"
expect 2 "calibration is for gpu 'h100-sxm' but the scenario's gpu (cluster.gpu) is 'a100-80gb'" -- \
  "$bin" train "${small[@]}" --gpu a100-80gb --kernel-calibration "$tmp/h100-sxm.yaml"
expect 2 "cannot open '$tmp/missing.yaml'" -- "$bin" train "${small[@]}" --kernel-calibration "$tmp/missing.yaml"
sed 's/median_us: 2.167772/median_us: fast/' "$tmp/h100-sxm.yaml" > "$tmp/bad.yaml"
expect 2 "$tmp/bad.yaml:13: sample field 'median_us': bad value" -- "$bin" train "${small[@]}" --kernel-calibration "$tmp/bad.yaml"
expect 0 '"compute": "' -- "$bin" run "$root/scenarios/llama3-70b-h100-64.yaml" --kernel-calibration "$tmp/h100-sxm.yaml" --json

# serve --compute-backend gpu: the kernels of a grid of iteration sizes, measured once, cached.
serve=(--model llama3-8b --gpu h100-sxm --tp 1 --scheduler vllm --duration-s 30
       --workload poisson:qps=4,input=fixed:512,output=fixed:64)
expect 0 '"compute_backend": "model"' -- "$bin" serve "${serve[@]}" --json
expect 0 '"compute_device": "FAKE GPU (synthetic timings)"' -- "$bin" serve "${serve[@]}" --compute-backend gpu \
  --kernel-cache "$tmp/serve.jsonl" --json
expect 0 '"measured": 0' -- "$bin" serve "${serve[@]}" --compute-backend gpu --kernel-cache "$tmp/serve.jsonl" --json
e=$("$bin" serve "${serve[@]}" --json | grep -A1 '"tpot_s"' | tail -1)
f=$("$bin" serve "${serve[@]}" --compute-backend gpu --kernel-cache "$tmp/serve.jsonl" --json | grep -A1 '"tpot_s"' | tail -1)
[ -n "$e" ] && [ "$e" != "$f" ] && echo "ok: serve gpu backend changes TPOT" || fail "serve TPOT $f == $e"
expect 2 "workload.serving.compute_backend (--compute-backend): unknown value 'x'" -- "$bin" serve "${serve[@]}" --compute-backend x
expect 1 "no CUDA device" -- env FAKE_KERNELS_MODE=nogpu "$bin" serve "${serve[@]}" --compute-backend gpu --kernel-cache none

# validate --on-gpu.
expect 3 "no CUDA device" -- env FAKE_KERNELS_MODE=nogpu "$bin" validate --on-gpu --gpu h100-sxm
if [ "$beside" = 0 ]; then
  expect 1 "ninja -C build echosim-kernels" -- env -u ECHOSIM_KERNELS "$bin" validate --on-gpu --gpu h100-sxm
fi
expect 2 "unknown option '--bogus'" -- "$bin" validate --on-gpu --bogus
expect 2 "pass --gpu NAME" -- "$bin" validate --on-gpu
expect 0 "(b) training stage" -- "$bin" validate --on-gpu --calibration "$tmp/h100-sxm.yaml" --quick \
  --report "$tmp/report.md"
for f in report.md report.json; do [ -s "$tmp/$f" ] && echo "ok: wrote $f" || fail "$f missing"; done
python3 - "$tmp/report.json" <<'EOF' && echo "ok: report JSON" || fail "report JSON"
import json, sys
r = json.load(open(sys.argv[1]))
parts = r["parts"]
assert set(parts) == {"kernels_calibrated", "kernels_uncalibrated", "stage", "decode"}, parts.keys()
assert r["device"] == "FAKE GPU (synthetic timings)"
for name, p in parts.items():
    assert p["rows"], name
    for row in p["rows"]:
        assert row["measured_s"] > 0 and row["predicted_s"] > 0, row
        assert abs(row["error"] - (row["predicted_s"] - row["measured_s"]) / row["measured_s"]) < 1e-9
assert parts["stage"]["target_median_abs_error"] == 0.05
assert parts["decode"]["target_median_abs_error"] == 0.10
assert parts["kernels_calibrated"]["target_median_abs_error"] == 0.05
assert parts["kernels_uncalibrated"]["target_median_abs_error"] == 0.10
assert parts["stage"]["ops"], "per-op stage comparison"
EOF
grep -q "| shape | predicted" "$tmp/report.md" && echo "ok: markdown table" || fail "markdown table"
expect 2 "is for gpu 'h100-sxm', not --gpu a100-80gb" -- "$bin" validate --on-gpu --calibration "$tmp/h100-sxm.yaml" --gpu a100-80gb

if [ "$fails" -gt 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all passed"
