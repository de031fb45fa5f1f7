#!/usr/bin/env bash
# `echosim serve`, `serve-search` and `validate-serving` as a user runs them: outputs, files,
# exit codes and messages. usage: ECHOSIM=path/to/echosim serve_cli_test.sh REPO_ROOT
set -u
root=$1
bin=${ECHOSIM:?set ECHOSIM to the echosim binary}
# shellcheck source=../cli/expect.sh
source "$root/tests/cli/expect.sh"

w='poisson:qps=5,input=lognormal:1000:0.5,output=fixed:200'
serve=(--model llama2-70b --gpu h100-sxm --tp 4 --replicas 2 --scheduler vllm --workload "$w" --duration-s 120)

expect 0 "TTFT ms" -- "$bin" serve "${serve[@]}"
for key in '"requests"' '"ttft_s"' '"p99"' '"tpot_s"' '"e2e_s"' '"throughput_tokens_per_s"' '"slo_attainment"' \
           '"sim_wall_s"' '"simulated_s"' '"goodput_requests_per_s"' '"gpu_hours"'; do
  expect 0 "$key" -- "$bin" serve "${serve[@]}" --slo-ttft-ms 2000 --slo-tpot-ms 100 --json
done
expect 0 '"router": "least_outstanding"' -- "$bin" serve "${serve[@]}" --router least_outstanding --json
expect 0 '"cost_usd"' -- "$bin" serve "${serve[@]}" --usd-per-gpu-hour 2.5 --json
expect 0 '"kv_transfers"' -- "$bin" serve --model llama3-8b --gpu h100-sxm --prefill-replicas 1 --decode-replicas 1 --workload "$w" --duration-s 60 --json
expect 0 "wrote" -- "$bin" serve "${serve[@]}" --out "$tmp/out"
for f in summary.json requests.csv timeseries.csv timeline.json scenario.resolved.yaml; do
  if [ -s "$tmp/out/$f" ]; then echo "ok: wrote $f"; else echo "FAIL: $f missing"; fails=$((fails+1)); fi
done
python3 -c "import json,sys; t=json.load(open(sys.argv[1])); assert len(t['traceEvents'])>100" "$tmp/out/timeline.json" \
  && echo "ok: timeline is valid JSON" || { echo "FAIL: timeline not JSON"; fails=$((fails+1)); }
# The resolved scenario runs again to the same numbers; deterministic output but the wall clock.
a=$("$bin" serve "${serve[@]}" --json | grep -v sim_wall_s)
b=$("$bin" serve "$tmp/out/scenario.resolved.yaml" --json | grep -v sim_wall_s)
if [ "$a" = "$b" ] && [ -n "$a" ]; then echo "ok: resolved scenario reproduces"; else echo "FAIL: resolved scenario differs"; fails=$((fails+1)); fi
c=$("$bin" serve "${serve[@]}" --json | grep -v sim_wall_s)
if [ "$a" = "$c" ]; then echo "ok: deterministic"; else echo "FAIL: two runs differ"; fails=$((fails+1)); fi
# Scenario files, through `serve` and through `run`.
expect 0 "scheduler vllm" -- "$bin" serve "$root/scenarios/serving-llama2-70b-h100.yaml" --set workload.serving.duration_s=60
expect 0 '"scheduler": "sarathi"' -- "$bin" run "$root/scenarios/serving-llama2-70b-h100.yaml" --set workload.serving.duration_s=60 --set workload.serving.scheduler=sarathi --json
expect 0 "candidates" -- "$bin" serve-search --model llama3-8b --gpus h100-sxm,a100-80gb --tp 1,2 --workload 'poisson:qps=10,input=fixed:500,output=fixed:100' --duration-s 60 --slo-ttft-ms 1000 --slo-tpot-ms 60 --max-replicas 4 --usd-per-gpu-hour h100-sxm=2.5,a100-80gb=1.5
expect 0 '"best"' -- "$bin" serve-search --model llama3-8b --gpus h100-sxm --tp 1 --workload 'poisson:qps=10,input=fixed:500,output=fixed:100' --duration-s 60 --slo-ttft-ms 1000 --slo-tpot-ms 60 --max-replicas 4 --json

# Bad input: exit 2, one clear message naming the flag or line and the valid choices.
expect 2 "valid schedulers: vllm, sarathi, orca, static, vllm_v0" -- "$bin" serve "${serve[@]}" --scheduler fifo
expect 2 "valid routers: round_robin, least_outstanding, least_kv, prefix_affinity" -- "$bin" serve "${serve[@]}" --router random
expect 2 "qps: the rate must be positive" -- "$bin" serve --model llama2-70b --gpu h100-sxm --tp 4 --workload 'poisson:qps=0,input=fixed:10,output=fixed:10' --duration-s 10
expect 2 "qps: the rate must be positive" -- "$bin" serve --model llama2-70b --gpu h100-sxm --tp 4 --workload 'poisson:qps=-3,input=fixed:10,output=fixed:10' --duration-s 10
expect 2 "--slo-tpot-ms 1 cannot be met" -- "$bin" serve "${serve[@]}" --slo-tpot-ms 1
expect 2 "the model does not fit: llama2-70b on 1 x h100-sxm" -- "$bin" serve --model llama2-70b --gpu h100-sxm --workload "$w" --duration-s 10
expect 2 "unknown model 'gpt5'" -- "$bin" serve --model gpt5 --gpu h100-sxm --workload "$w" --duration-s 10
expect 2 "--tp: parallelism.tp: expected an unsigned integer" -- "$bin" serve "${serve[@]}" --tp four
expect 2 "unknown option '--bogus' for 'echosim serve'" -- "$bin" serve "${serve[@]}" --bogus
expect 2 "--workload is required" -- "$bin" serve --model llama2-70b --gpu h100-sxm --tp 4
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:47.10,x7,44\n2023-11-16 18:15:48.00,100,10\n' > "$tmp/bad.csv"
expect 2 "bad.csv:3: ContextTokens: 'x7' is not an integer" -- "$bin" serve --model llama3-8b --gpu h100-sxm --workload "trace:$tmp/bad.csv"
expect 0 "skipped 1 malformed trace lines" -- "$bin" serve --model llama3-8b --gpu h100-sxm --workload "trace:$tmp/bad.csv" --skip-bad-lines
expect 2 "cannot open trace file" -- "$bin" serve --model llama3-8b --gpu h100-sxm --workload "trace:$tmp/none.csv"
expect 2 "workload.serving is not set" -- "$bin" serve "$root/scenarios/gpt3-175b-h100-1024.yaml"

if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all serve CLI checks passed"
