#!/usr/bin/env bash
# `echosim trace`, `import` and `run-trace` as a user runs them: outputs, files, exit codes.
# usage: ECHOSIM=... FAKE_PROGRAM=... TRACER_LIB_DIR=... trace_cli_test.sh REPO_ROOT
set -u
root=$1
bin=${ECHOSIM:?set ECHOSIM to the echosim binary}
# shellcheck source=../cli/expect.sh
source "$root/tests/cli/expect.sh"
fake=${FAKE_PROGRAM:?set FAKE_PROGRAM}
libdir=${TRACER_LIB_DIR:?set TRACER_LIB_DIR}
shared=$root/../shared/traces

# Usage errors name the flag.
expect 2 "needs --world-size" -- "$bin" trace --ranks auto --out "$tmp/x" -- true
expect 2 "needs the program to run after --" -- "$bin" trace --world-size 4 --ranks auto --out "$tmp/x"
expect 2 "--ranks: rank 9 is outside the world of 4" -- "$bin" trace --world-size 4 --ranks 0,9 --out "$tmp/x" -- true
expect 2 "must equal --world-size 8" -- "$bin" trace --world-size 8 --tp 2 --pp 2 --dp 3 --ranks auto --out "$tmp/x" -- true
expect 2 "unknown format 'nvtx'" -- "$bin" import nvtx x
expect 2 "--gpu: unknown gpu 'k80'" -- "$bin" trace --world-size 2 --ranks 0 --out "$tmp/x" --gpu k80 -- true
expect 2 "not a file, a folder or a prefix" -- "$bin" run-trace "$tmp/none"

# The whole capture path with the NCCL shim and a program that needs no GPU.
if [ -f "$libdir/libechosim_nccl.so" ]; then
  expect 0 "wrote 4 traces and manifest.json" -- "$bin" trace --world-size 4 --tp 2 --pp 2 \
      --ranks auto --out "$tmp/job" --no-cupti --lib-dir "$libdir" --gpu a100-80gb -- "$fake"
  for r in 0 1 2 3; do
    [ -f "$tmp/job/trace.$r.et" ] || { echo "FAIL: no trace.$r.et"; fails=$((fails+1)); }
  done
  expect 0 '"world_size": 4' -- cat "$tmp/job/manifest.json"
  expect 0 '"gpu": "a100-80gb"' -- cat "$tmp/job/manifest.json"
  expect 0 '"traced_gpu": "a100-80gb"' -- "$bin" run --trace "$tmp/job" --set cluster.gpu=h100-sxm --json
  expect 0 '"collectives": "rendezvous"' -- "$bin" run-trace "$tmp/job" --json
  expect 0 '"world_size": 64' -- "$bin" run-trace "$tmp/job" --world-size 64 --json
  expect 0 "step time" -- "$bin" run-trace "$tmp/job" --timeline "$tmp/job.timeline.json"
  expect 0 '"traceEvents"' -- head -c 200 "$tmp/job.timeline.json"
  expect 0 "rank  nodes" -- "$bin" import chakra "$tmp/job"
  # The program's failure is reported with its rank.
  expect 1 "rank 0: 'false' exited with status 1" -- "$bin" trace --world-size 2 --ranks 0 \
      --out "$tmp/bad" --no-cupti --lib-dir "$libdir" -- false
else
  echo "skip: NCCL shim not built ($libdir/libechosim_nccl.so)"
fi
expect 2 "NCCL shim not found" -- "$bin" trace --world-size 2 --ranks 0 --out "$tmp/y" \
    --lib-dir "$tmp/nolib" -- true

# Malformed traces: a clear error, exit code 2.
printf '\x07\x0a\x050.0.4\x85' > "$tmp/trunc.0.et"
expect 2 "truncated length prefix" -- "$bin" import chakra "$tmp/trunc.0.et"
printf '{"traceEvents": [\n {"ph": "X",, }]}' > "$tmp/bad.json"
expect 2 "invalid JSON at line 2" -- "$bin" import kineto "$tmp/bad.json"

# Export a training scenario to Chakra ET and Kineto, simulate the export (echosim run --trace).
job=(--model llama3-8b --gpu h100-sxm --gpus 16 --tp 2 --pp 2 --global-batch 16 --seq-len 2048)
expect 0 "wrote 2 Chakra ET file(s) and manifest.json" -- "$bin" train "${job[@]}" \
    --export-chakra "$tmp/ex" --kineto "$tmp/kin"
expect 0 '"stands_for"' -- cat "$tmp/ex/manifest.json"
expect 0 '"distributedInfo"' -- head -c 2000 "$tmp/kin/rank8.json"
expect 0 "wrote 16 Chakra ET file(s)" -- "$bin" train "${job[@]}" --full --export-chakra "$tmp/exf"
expect 0 "compute scaling     none: the trace was recorded on h100-sxm" -- \
    "$bin" run --trace "$tmp/ex" --set cluster.gpu=h100-sxm --out "$tmp/out"
for f in summary.json timeline.json scenario.resolved.yaml; do
  [ -f "$tmp/out/$f" ] || { echo "FAIL: run --trace --out wrote no $f"; fails=$((fails+1)); }
done
expect 0 "dir: " -- cat "$tmp/out/scenario.resolved.yaml"
expect 0 '"traced_gpu": "h100-sxm"' -- "$bin" run --trace "$tmp/ex" --set cluster.gpu=a100-80gb --json
expect 0 '"traced_gpu": "h200"' -- "$bin" run --trace "$tmp/ex" --trace-gpu h200 --set cluster.gpu=h100-sxm --json
expect 0 '"world_size": 32' -- "$bin" run --trace "$tmp/ex" --set cluster.gpu=h100-sxm --set cluster.gpus=32 --json
expect 0 "step time" -- "$bin" run --trace "$tmp/exf" --set cluster.gpu=h100-sxm --kineto "$tmp/kin2"
[ -f "$tmp/kin2/rank15.json" ] || { echo "FAIL: run --trace --kineto wrote no rank15.json"; fails=$((fails+1)); }
expect 0 "step time" -- "$bin" run-trace "$tmp/ex" --kineto "$tmp/kin3"
printf 'cluster: {gpu: h100-sxm}\nworkload:\n  trace: {dir: %s, gpu: a100-80gb}\n' "$tmp/ex" > "$tmp/trace.yaml"
expect 0 "from a100-80gb (workload.trace.gpu)" -- "$bin" run "$tmp/trace.yaml"
# Bad input: the flag or field, the file and node; exit code 2.
expect 2 "workload.trace.gpu (--trace-gpu)" -- "$bin" run --trace "$tmp/ex" --trace-gpu k80 --set cluster.gpu=h100-sxm
expect 2 "cluster.gpu (--gpu) is required" -- "$bin" run --trace "$tmp/ex"
expect 2 "cluster.gpus (--gpus) 8 is smaller than the traced world of 16" -- \
    "$bin" run --trace "$tmp/ex" --set cluster.gpu=h100-sxm --set cluster.gpus=8
expect 2 "--trace-gpu needs --trace DIR" -- "$bin" run --trace-gpu h100-sxm
expect 2 "simulation.compute_backend (--compute-backend) gpu applies to training and serving" -- \
    "$bin" run --trace "$tmp/ex" --set cluster.gpu=h100-sxm --compute-backend gpu
expect 2 "simulation.kernel_calibration (--kernel-calibration) applies to training and serving" -- \
    "$bin" run --trace "$tmp/ex" --set cluster.gpu=h100-sxm --kernel-calibration "$tmp/cal.yaml"
expect 2 "not a file, a folder or a prefix" -- "$bin" run --trace "$tmp/none" --set cluster.gpu=h100-sxm
mkdir -p "$tmp/cut" && cp "$tmp/exf"/trace.*.et "$tmp/cut/"
head -c 5000 "$tmp/exf/trace.3.et" > "$tmp/cut/trace.3.et"
expect 2 "trace.3.et: offset" -- "$bin" run --trace "$tmp/cut" --set cluster.gpu=h100-sxm
head -c 5000 "$tmp/kin/rank0.json" > "$tmp/cut.json"
printf '{"traceEvents": []}\n' > "$tmp/nothing.json"
expect 2 "nothing.json: no kernels, memory copies, collectives or CPU operators" -- \
    "$bin" run --trace "$tmp/nothing.json" --set cluster.gpu=h100-sxm
expect 2 "nothing.json: no kernels" -- "$bin" import kineto "$tmp/nothing.json"
expect 2 "cut.json" -- "$bin" run --trace "$tmp/cut.json" --set cluster.gpu=h100-sxm

if [ -d "$shared" ]; then
  expect 0 "custom_allreduce.7.et" -- "$bin" import chakra "$shared/chakra/custom_ring_allreduce_8npus_1MB"
  expect 2 "holds chakra traces, not kineto" -- "$bin" import kineto "$shared/chakra/pytorch_converted.0.et"
  expect 0 '"collectives": "rendezvous"' -- "$bin" run-trace "$shared/chakra/allreduce_8npus_1MB" --json
  expect 0 "wrote 1 Chakra trace" -- "$bin" import kineto "$shared/kineto/nccl_2ranks_rank0.json.gz" --out "$tmp/k2c"
  expect 0 "step time" -- "$bin" run-trace "$tmp/k2c/trace.0.et"
  # A real Kineto trace: its GPU (deviceProperties, an A100 40 GB) scales compute to the target.
  expect 0 "compute scaling     from a100-40gb (trace metadata)" -- \
      "$bin" run --trace "$shared/kineto/nccl_2ranks_rank0.json.gz" --set cluster.gpu=h100-sxm
  expect 0 '"applied": false' -- "$bin" run --trace "$shared/chakra/pytorch_converted.0.et" \
      --set cluster.gpu=h100-sxm --json
  # Same input, same output, byte for byte.
  "$bin" run-trace "$shared/chakra/custom_ring_allreduce_8npus_1MB" --timeline "$tmp/a.json" >/dev/null
  "$bin" run-trace "$shared/chakra/custom_ring_allreduce_8npus_1MB" --timeline "$tmp/b.json" >/dev/null
  if cmp -s "$tmp/a.json" "$tmp/b.json"; then echo "ok: timeline deterministic"; else
    echo "FAIL: timelines differ"; fails=$((fails+1)); fi
else
  echo "skip: ../shared/traces absent"
fi

echo "$fails failure(s)"
[ "$fails" = 0 ]
