#!/usr/bin/env bash
# The `echosim` command as a user runs it: outputs, files, exit codes and messages.
# usage: ECHOSIM=path/to/echosim cli_test.sh REPO_ROOT
set -u
root=$1
bin=${ECHOSIM:?set ECHOSIM to the echosim binary}
# shellcheck source=expect.sh
source "$root/tests/cli/expect.sh"

gpt3=(--model gpt3-175b --gpu h100-sxm --gpus 1024 --tp 8 --pp 8 --vpp 3 --micro-batch 1
      --global-batch 1536 --seq-len 2048 --sequence-parallel --recompute selective --zero 1)

expect 0 "step time" -- "$bin" train "${gpt3[@]}"
expect 0 '"step_time_s"' -- "$bin" train "${gpt3[@]}" --json
expect 0 '"simulated_ranks": 8' -- "$bin" train "${gpt3[@]}" --json
expect 0 "gpt3-175b" -- "$bin" list models
expect 0 "h100-sxm" -- "$bin" list gpus
expect 0 "interleaved_1f1b" -- "$bin" list schedules
expect 0 "step time" -- "$bin" run "$root/scenarios/gpt3-175b-h100-1024.yaml" --out "$tmp/out"
for f in summary.json timeline.json scenario.resolved.yaml; do
  if [ -s "$tmp/out/$f" ]; then echo "ok: wrote $f"; else echo "FAIL: $f missing"; fails=$((fails+1)); fi
done
# The resolved scenario runs again to the same step time.
a=$("$bin" run "$root/scenarios/gpt3-175b-h100-1024.yaml" --json | grep '"step_time_s"')
b=$("$bin" run "$tmp/out/scenario.resolved.yaml" --json | grep '"step_time_s"')
if [ "$a" = "$b" ] && [ -n "$a" ]; then echo "ok: resolved scenario reproduces"; else echo "FAIL: resolved differs: $a vs $b"; fails=$((fails+1)); fi
# Determinism: same scenario twice, byte-identical timeline and summary (but the wall clock).
"$bin" run "$root/scenarios/gpt3-175b-h100-1024.yaml" --out "$tmp/again" >/dev/null
if cmp -s "$tmp/out/timeline.json" "$tmp/again/timeline.json"; then echo "ok: timeline identical"; else echo "FAIL: timeline differs"; fails=$((fails+1)); fi
if diff <(grep -v sim_wall_s "$tmp/out/summary.json") <(grep -v sim_wall_s "$tmp/again/summary.json") >/dev/null; then
  echo "ok: summary identical"; else echo "FAIL: summary differs"; fails=$((fails+1)); fi
python3 -c "import json,sys; t=json.load(open(sys.argv[1])); assert len(t['traceEvents'])>1000" "$tmp/out/timeline.json" \
  && echo "ok: timeline is valid JSON" || { echo "FAIL: timeline not JSON"; fails=$((fails+1)); }
expect 0 "" -- "$bin" run "$root/scenarios/gpt3-175b-h100-1024.yaml" --set parallelism.vpp=1 --set parallelism.pipeline_schedule=1f1b --timeline "$tmp/t.json"

# --help after a command prints its usage and exits 0 (the usage says "see echosim serve --help").
expect 0 "train options" -- "$bin" train --help
expect 0 "train options" -- "$bin" run -h
expect 0 "echosim validate" -- "$bin" validate --help
expect 2 "--scenarios needs a value" -- "$bin" validate --scenarios
expect 2 "--cpu-offload-layers (parallelism.cpu_offload_layers): activation offloading needs pp 1" -- "$bin" train "${gpt3[@]}" --cpu-offload-layers 8
expect 2 "parallelism.fp8_param_gather (--fp8-param-gather) needs dtype fp8" -- "$bin" train --model llama3-8b --gpu h100-sxm --gpus 8 --global-batch 8 --fp8-param-gather
expect 0 "step time" -- "$bin" train --model llama3-8b --gpu h100-sxm --gpus 8 --global-batch 16 --lora-rank 16 --lora-modules qkv,fc2
expect 2 "workload.training.lora_modules[1]: unknown module 'bogus'; valid: qkv, proj, fc1, fc2" -- "$bin" train --model llama3-8b --gpu h100-sxm --gpus 8 --global-batch 16 --lora-rank 16 --lora-modules qkv,bogus
: > "$tmp/a-file"
expect 2 "--scenarios: cannot create the directory '$tmp/a-file/rows'" -- "$bin" validate --data-dir "$tmp" --scenarios "$tmp/a-file/rows"
expect 0 "serve options" -- "$bin" serve --help
expect 0 "serve-search options" -- "$bin" serve-search --help

# search: Llama 3.1 405B's 126 layers over 8 stages with the embedding and the loss counted.
s405=(--model llama3.1-405b --gpu h100-sxm --gpus 512 --global-batch 64 --tp 8 --pp 8 --vpp 1 --cp 1
      --micro-batch 1 --recompute full --json)
expect 0 '"invalid": 0' -- "$bin" search "${s405[@]}" --account-for-embedding-in-pipeline-split \
  --account-for-loss-in-pipeline-split
expect 0 '"invalid": 0' -- "$bin" search "${s405[@]}" --set parallelism.account_for_embedding_in_pipeline_split=true \
  --set parallelism.account_for_loss_in_pipeline_split=true
expect 0 '"invalid": 1' -- "$bin" search "${s405[@]}"
# search with a routing imbalance: checked up front for what needs no plan, then applied to the
# plans with EP (a small MoE job, a fixed plan: tp 1, pp 1, ep 8 or 1).
sq=(--model qwen3-30b-a3b --gpu b200 --gpus 8 --global-batch 16 --seq-len 1024 --tp 1 --pp 1 --vpp 1
    --cp 1 --micro-batch 1 --zero 1 --recompute none --json)
expect 0 '"simulated": 2' -- "$bin" search "${sq[@]}" --ep 1,8 --moe-load-imbalance 1.5
expect 2 "moe_load_imbalance (--moe-load-imbalance) must be >= 1" -- "$bin" search "${sq[@]}" --moe-load-imbalance 0.5
expect 2 "for an MoE model; got 1.5 for 'llama3-8b'" -- "$bin" search --model llama3-8b --gpu h100-sxm --gpus 8 \
  --global-batch 16 --moe-load-imbalance 1.5
# The fp8 recipe: a flag of train and search, checked like the field.
expect 0 "step time" -- "$bin" train --model llama3-8b --gpu b200 --gpus 8 --global-batch 16 --dtype fp8 \
  --fp8-recipe mxfp8
expect 2 "fp8_recipe: unknown value 'tensorwise'; valid choices: delayed, current, mxfp8" -- "$bin" train \
  --model llama3-8b --gpu b200 --gpus 8 --global-batch 16 --dtype fp8 --fp8-recipe tensorwise
expect 0 '"simulated": 1' -- "$bin" search "${sq[@]}" --ep 8 --dtype fp8 --fp8-recipe current
# Edge layers in bf16 under fp8 / fp4: flags of train and search, checked like the fields.
expect 0 "step time" -- "$bin" train --model llama3-8b --gpu b200 --gpus 8 --global-batch 16 --dtype fp4 \
  --bf16-layers-at-start 1 --bf16-layers-at-end 2
expect 2 "keep layers in bf16 under dtype fp8 or fp4; got dtype bf16" -- "$bin" train --model llama3-8b \
  --gpu b200 --gpus 8 --global-batch 16 --bf16-layers-at-end 2
expect 0 '"simulated": 1' -- "$bin" search "${sq[@]}" --ep 8 --dtype fp8 --bf16-layers-at-end 2
# YaRN's RoPE factor, a model shape field: checked like the preset's.
expect 2 "rope_mscale must be a positive factor up to 100" -- "$bin" train --model gpt-oss-120b --gpu h100-sxm \
  --gpus 8 --ep 8 --global-batch 16 --seq-len 2048 --set workload.training.shape.rope_mscale=-2
oss=(--model gpt-oss-120b --gpu h100-sxm --gpus 8 --ep 8 --global-batch 16 --seq-len 2048)
yarn=$("$bin" train "${oss[@]}" 2>&1 | grep "step time")
plain=$("$bin" train "${oss[@]}" --set workload.training.shape.rope_mscale=1 2>&1 | grep "step time")
if [ -z "$plain" ] || [ "$yarn" = "$plain" ]; then
  fail "rope_mscale=1 should run the fused RoPE and change the step time: '$yarn' vs '$plain'"
else
  echo "ok: rope_mscale=1 runs the fused RoPE ($yarn -> $plain)"
fi

# Bad input: exit 2, one clear message naming the flag or field and the valid choices.
expect 2 "unknown model 'gpt4'; valid models: custom" -- "$bin" train --model gpt4 --gpu h100-sxm --gpus 8 --global-batch 8
expect 2 "unknown gpu 'tpu'; valid gpus:" -- "$bin" train --model llama2-7b --gpu tpu --gpus 8 --global-batch 8
expect 2 "valid schedules: 1f1b, interleaved_1f1b, gpipe" -- "$bin" train "${gpt3[@]}" --schedule zero-bubble
expect 2 "--gpus (cluster.gpus): 1000 GPUs are not divisible by tp*pp*cp" -- "$bin" train --model gpt3-175b --gpu h100-sxm --gpus 1000 --tp 8 --pp 8 --global-batch 1536
expect 2 "--tp (parallelism.tp): model heads (96) are not divisible by tp = 5" -- "$bin" train --model gpt3-175b --gpu h100-sxm --gpus 40 --tp 5 --global-batch 8
expect 2 "model layers (96) are not divisible by pp*vpp = 8*5 = 40" -- "$bin" train "${gpt3[@]}" --vpp 5
expect 2 "is not divisible by micro_batch*dp" -- "$bin" train "${gpt3[@]}" --global-batch 1000
expect 2 "--tp: parallelism.tp: expected an unsigned integer" -- "$bin" train "${gpt3[@]}" --tp eight
expect 2 "--tp: parallelism.tp: expected an unsigned integer, got negative value '-8'" -- "$bin" train "${gpt3[@]}" --tp -8
expect 2 "unknown option '--tpp'" -- "$bin" train "${gpt3[@]}" --tpp 8
expect 2 "--dtype" -- "$bin" train "${gpt3[@]}" --dtype int8
expect 2 "has no FP8 tensor cores" -- "$bin" train --model llama2-7b --gpu a100-80gb --gpus 8 --global-batch 8 --dtype fp8
expect 2 "--global-batch) is required" -- "$bin" train --model llama2-7b --gpu h100-sxm --gpus 8
expect 2 "needs a value" -- "$bin" train --model
expect 2 "unknown command 'trian'" -- "$bin" trian
expect 2 "valid: models, gpus, schedules" -- "$bin" list cats
expect 2 "cannot open scenario file" -- "$bin" run "$tmp/nope.yaml"
printf 'cluster:\n  gpu: h100-sxm\n  gpus: [8\n' > "$tmp/bad.yaml"
expect 2 "bad.yaml:4:1: malformed YAML: end of sequence flow not found" -- "$bin" run "$tmp/bad.yaml"
printf 'cluster:\n  gpu: h100-sxm\n  gpuz: 8\n' > "$tmp/typo.yaml"
expect 2 "typo.yaml:3:3: cluster.gpuz: unknown field" -- "$bin" run "$tmp/typo.yaml"
expect 2 "unknown field 'tpp'" -- "$bin" run "$root/scenarios/gpt3-175b-h100-1024.yaml" --set parallelism.tpp=2
# Absurd sizes are input errors, not crashes.
l8b=(train --model llama3-8b --gpu h100-sxm --gpus 8 --global-batch 64)
expect 2 "head_dim must be at most 16384" -- "$bin" "${l8b[@]}" --head-dim 4294967295
expect 2 "hidden must be at most 1048576" -- "$bin" "${l8b[@]}" --hidden 4000000000
expect 2 "layers must be at most 16384" -- "$bin" "${l8b[@]}" --layers 4294967295
expect 2 "--seq-len (workload.training.seq_len_tokens): at most 16777216 tokens" -- "$bin" "${l8b[@]}" --seq-len 1073741824
expect 2 "beyond what echosim simulates" -- "$bin" "${l8b[@]}" --seq-len 16777216

if [ "$fails" -ne 0 ]; then echo "$fails CLI checks failed"; exit 1; fi
echo "all CLI checks passed"
