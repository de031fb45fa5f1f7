#!/usr/bin/env bash
# echosim-kernels as a user runs it: exit codes and messages. Bad input exits 2 naming the
# line and field before any CUDA call, so these checks run on machines without a GPU; `info`
# exits 3 ("no CUDA device") without one and 0 with one.
# usage: ECHOSIM_KERNELS=path/to/echosim-kernels cli_test.sh REPO_ROOT
set -u
root=$1
bin=${ECHOSIM_KERNELS:?set ECHOSIM_KERNELS to the echosim-kernels binary}
# shellcheck source=../../tests/cli/expect.sh
source "$root/tests/cli/expect.sh"

out=$("$bin" info 2>&1); rc=$?
if [ "$rc" = 3 ] && grep -q "^no CUDA device: " <<<"$out"; then
  echo "ok: info without a GPU exits 3: $out"
elif [ "$rc" = 0 ] && grep -q "compute capability" <<<"$out"; then
  echo "ok: info on a GPU"
else
  echo "FAIL: info exited $rc: $out"; fails=$((fails+1))
fi

good='{"name":"attn.qkv.fwd","class":"gemm","dtype":"bf16","m":128,"n":256,"k":64,"batch":1,"flops":4194304,"bytes":114688}'
printf '%s\n{"name":"x","class":"gemm","m":1,\n' "$good" > "$tmp/malformed.jsonl"
printf '%s\n\n%s\n{"name":"x","class":"conv","m":1}\n' "$good" "$good" > "$tmp/class.jsonl"
printf '{"name":"attn.fwd","class":"attention","m":128,"n":128,"batch":4}\n' > "$tmp/missing.jsonl"
printf '{"name":"norm1.fwd","class":"memory_bound","bytes":"lots"}\n' > "$tmp/type.jsonl"
printf '%s\n' "$good" > "$tmp/good.jsonl"

expect 2 "malformed.jsonl: line 2: malformed JSON" -- "$bin" measure --ops "$tmp/malformed.jsonl" --out "$tmp/o.jsonl"
expect 2 "class.jsonl: line 4: field 'class': unknown value 'conv'; valid choices: gemm, attention, memory_bound, optimizer" \
  -- "$bin" measure --ops "$tmp/class.jsonl" --out "$tmp/o.jsonl"
expect 2 "missing.jsonl: line 1: missing field 'k' (required for class attention)" \
  -- "$bin" measure --ops "$tmp/missing.jsonl" --out "$tmp/o.jsonl"
expect 2 "type.jsonl: line 1: field 'bytes' must be a number" -- "$bin" measure --ops "$tmp/type.jsonl" --out "$tmp/o.jsonl"
expect 2 "--ops: cannot read" -- "$bin" measure --ops "$tmp/none.jsonl" --out "$tmp/o.jsonl"
expect 2 "--out: folder" -- "$bin" measure --ops "$tmp/good.jsonl" --out "$tmp/no/such/dir/o.jsonl"
expect 2 "missing required flag --ops" -- "$bin" measure --out "$tmp/o.jsonl"
expect 2 "valid choices: info, measure, calibrate, interference, stage, decode" -- "$bin" frobnicate
expect 2 "usage: echosim-kernels" -- "$bin"
expect 0 "usage: echosim-kernels" -- "$bin" --help
expect 0 "usage: echosim-kernels" -- "$bin" -h
expect 2 "--gpu: 'H100 SXM'" -- "$bin" calibrate --gpu "H100 SXM" --out "$tmp/c.yaml"
expect 2 "--blocks: must be in [1, 1024]" -- "$bin" interference --out "$tmp/i.csv" --blocks 0,2
expect 2 "head_dim = --hidden / --heads must be 64 or 128" -- "$bin" stage --hidden 4096 --heads 16 --kv-heads 8 --ffn 1024 --seq 128 --micro-batch 1 \
  --micro-batches 1 --out "$tmp/s.json"
expect 2 "--context: expected START:END:STEP" -- "$bin" decode --hidden 4096 --heads 32 --kv-heads 8 --ffn 1024 \
  --layers 1 --batch-sizes 1,2 --context 128 --out "$tmp/d.json"
if [ -e "$tmp/o.jsonl" ]; then echo "FAIL: bad input still wrote an output"; fails=$((fails+1)); fi

if [ "$fails" -gt 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all echosim-kernels command-line checks passed"
