#!/usr/bin/env bash
# `echosim trace`, `import` and `run-trace` as a user runs them: outputs, files, exit codes.
# usage: ECHOSIM=... FAKE_PROGRAM=... TRACER_LIB_DIR=... trace_cli_test.sh REPO_ROOT
set -u
root=$1
bin=${ECHOSIM:?set ECHOSIM to the echosim binary}
fake=${FAKE_PROGRAM:?set FAKE_PROGRAM}
libdir=${TRACER_LIB_DIR:?set TRACER_LIB_DIR}
shared=$root/../shared/traces
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# shellcheck source=../cli/expect.sh
source "$root/tests/cli/expect.sh"

# Usage errors name the flag.
expect 2 "needs --world-size" -- "$bin" trace --ranks auto --out "$tmp/x" -- true
expect 2 "needs the program to run after --" -- "$bin" trace --world-size 4 --ranks auto --out "$tmp/x"
expect 2 "--ranks: rank 9 is outside the world of 4" -- "$bin" trace --world-size 4 --ranks 0,9 --out "$tmp/x" -- true
expect 2 "must equal --world-size 8" -- "$bin" trace --world-size 8 --tp 2 --pp 2 --dp 3 --ranks auto --out "$tmp/x" -- true
expect 2 "unknown format 'nvtx'" -- "$bin" import nvtx x
expect 2 "not a file, a folder or a prefix" -- "$bin" run-trace "$tmp/none"

# The whole capture path with the NCCL shim and a program that needs no GPU.
if [ -f "$libdir/libechosim_nccl.so" ]; then
  expect 0 "wrote 4 traces and manifest.json" -- "$bin" trace --world-size 4 --tp 2 --pp 2 \
      --ranks auto --out "$tmp/job" --no-cupti --lib-dir "$libdir" -- "$fake"
  for r in 0 1 2 3; do
    [ -f "$tmp/job/trace.$r.et" ] || { echo "FAIL: no trace.$r.et"; fails=$((fails+1)); }
  done
  expect 0 '"world_size": 4' -- cat "$tmp/job/manifest.json"
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

if [ -d "$shared" ]; then
  expect 0 "custom_allreduce.7.et" -- "$bin" import chakra "$shared/chakra/custom_ring_allreduce_8npus_1MB"
  expect 2 "holds chakra traces, not kineto" -- "$bin" import kineto "$shared/chakra/pytorch_converted.0.et"
  expect 0 '"collectives": "rendezvous"' -- "$bin" run-trace "$shared/chakra/allreduce_8npus_1MB" --json
  expect 0 "wrote 1 Chakra trace" -- "$bin" import kineto "$shared/kineto/nccl_2ranks_rank0.json.gz" --out "$tmp/k2c"
  expect 0 "step time" -- "$bin" run-trace "$tmp/k2c/trace.0.et"
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
