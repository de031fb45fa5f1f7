"""The keyword arguments of :func:`echosim.train` and :func:`echosim.serve`: the CLI's flags.

Each entry maps a Python keyword (the flag's name with underscores) to the CLI flag and
the scenario field it sets, exactly as ``echosim train --help`` lists them. Boolean flags
set a fixed value when given: ``True`` does what the flag does on the command line,
``False`` sets the opposite explicitly (useful to switch off a base scenario's setting).
"""

from __future__ import annotations

from typing import NamedTuple


class Flag(NamedTuple):
    cli: str  # the command-line flag, e.g. "--micro-batch"
    key: str  # the scenario field it sets, dotted
    switch: str | None  # for boolean flags: the value given flag sets ("true"/"false")


def _value(cli: str, key: str) -> Flag:
    return Flag(cli, key, None)


def _switch(cli: str, key: str, value: str = "true") -> Flag:
    return Flag(cli, key, value)


TRAIN_FLAGS: dict[str, Flag] = {
    "model": _value("--model", "workload.training.model"),
    "layers": _value("--layers", "workload.training.shape.layers"),
    "hidden": _value("--hidden", "workload.training.shape.hidden"),
    "heads": _value("--heads", "workload.training.shape.heads"),
    "ffn": _value("--ffn", "workload.training.shape.ffn_hidden"),
    "vocab": _value("--vocab", "workload.training.shape.vocab"),
    "kv_heads": _value("--kv-heads", "workload.training.shape.kv_heads"),
    "head_dim": _value("--head-dim", "workload.training.shape.head_dim"),
    "sliding_window": _value("--sliding-window", "workload.training.shape.sliding_window_tokens"),
    "qk_norm": _switch("--qk-norm", "workload.training.shape.qk_norm"),
    "full_attention_every": _value("--full-attention-every", "workload.training.shape.full_attention_every"),
    "experts": _value("--experts", "workload.training.shape.experts"),
    "top_k": _value("--top-k", "workload.training.shape.top_k"),
    "gpu": _value("--gpu", "cluster.gpu"),
    "gpus": _value("--gpus", "cluster.gpus"),
    "gpus_per_node": _value("--gpus-per-node", "cluster.gpus_per_node"),
    "tp": _value("--tp", "parallelism.tp"),
    "pp": _value("--pp", "parallelism.pp"),
    "vpp": _value("--vpp", "parallelism.vpp"),
    "cp": _value("--cp", "parallelism.cp"),
    "ep": _value("--ep", "parallelism.ep"),
    "dp": _value("--dp", "parallelism.dp"),
    "micro_batch": _value("--micro-batch", "workload.training.micro_batch_seqs"),
    "global_batch": _value("--global-batch", "workload.training.global_batch_seqs"),
    "seq_len": _value("--seq-len", "workload.training.seq_len_tokens"),
    "dtype": _value("--dtype", "workload.training.dtype"),
    "attention": _value("--attention", "workload.training.attention"),
    "zero": _value("--zero", "parallelism.zero"),
    "recompute": _value("--recompute", "parallelism.recompute"),
    "recompute_modules": _value("--recompute-modules", "parallelism.recompute_modules"),
    "sequence_parallel": _switch("--sequence-parallel", "parallelism.sequence_parallel"),
    "schedule": _value("--schedule", "parallelism.pipeline_schedule"),
    "no_overlap_grad_reduce": _switch(
        "--no-overlap-grad-reduce", "parallelism.overlap_grad_reduce", "false"
    ),
    "overlap_param_gather": _switch("--overlap-param-gather", "parallelism.overlap_param_gather"),
    "grad_reduce_in_fp32": _switch("--grad-reduce-in-fp32", "parallelism.grad_reduce_in_fp32"),
    "fp8_param_gather": _switch("--fp8-param-gather", "parallelism.fp8_param_gather"),
    "cpu_offload_layers": _value("--cpu-offload-layers", "parallelism.cpu_offload_layers"),
    "pipeline_layout": _value("--pipeline-layout", "parallelism.pipeline_layout"),
    "optimizer": _value("--optimizer", "workload.training.optimizer"),
    "optimizer_moments": _value("--optimizer-moments", "workload.training.optimizer_moments"),
    "moe_dispatcher": _value("--moe-dispatcher", "parallelism.moe_dispatcher"),
    "flex_sms": _value("--flex-sms", "parallelism.flex_dispatcher_sms"),
    "moe_grouped_gemm": _value("--moe-grouped-gemm", "parallelism.moe_grouped_gemm"),
    "moe_fused_mlp": _switch("--moe-fused-mlp", "parallelism.moe_fused_mlp"),
    "moe_load_imbalance": _value("--moe-load-imbalance", "workload.training.moe_load_imbalance"),
    "tp_comm_overlap": _switch("--tp-comm-overlap", "parallelism.tp_comm_overlap"),
    "ep_comm_overlap": _switch("--ep-comm-overlap", "parallelism.ep_comm_overlap"),
    "expert_tp": _value("--expert-tp", "parallelism.expert_tp"),
    "fp8_attention": _switch("--fp8-attention", "workload.training.fp8_attention"),
    "fp8_recipe": _value("--fp8-recipe", "workload.training.fp8_recipe"),
    "mtp_bf16": _switch("--mtp-bf16", "workload.training.mtp_bf16"),
    "lora_rank": _value("--lora-rank", "workload.training.lora_rank"),
    "lora_modules": _value("--lora-modules", "workload.training.lora_modules"),
    "packed_sample_tokens": _value("--packed-sample-tokens", "workload.training.packed_sample_tokens"),
    "bf16_layers_at_start": _value("--bf16-layers-at-start", "workload.training.bf16_layers_at_start"),
    "bf16_layers_at_end": _value("--bf16-layers-at-end", "workload.training.bf16_layers_at_end"),
    "account_for_embedding_in_pipeline_split": _switch(
        "--account-for-embedding-in-pipeline-split",
        "parallelism.account_for_embedding_in_pipeline_split"),
    "account_for_loss_in_pipeline_split": _switch(
        "--account-for-loss-in-pipeline-split", "parallelism.account_for_loss_in_pipeline_split"),
    "nic_gbps": _value("--nic-gbps", "cluster.network.nic_gbps"),
    "nvlink_gbps": _value("--nvlink-gbps", "cluster.network.nvlink_gbps"),
    "host_overhead_ms": _value("--host-overhead-ms", "simulation.host_overhead_per_step_ms"),
    "host_launch_us": _value("--host-launch-us", "simulation.host_launch_us"),
    "host_loop_launch_us": _value("--host-loop-launch-us", "simulation.host_loop_launch_us"),
    "cuda_graph_scope": _value("--cuda-graph-scope", "parallelism.cuda_graph_scope"),
    "flex_traffic_factor": _value("--flex-traffic-factor", "simulation.flex_dispatch_traffic_factor"),
    "full": _switch("--full", "simulation.full"),
    "oversubscription": _value("--oversubscription", "cluster.network.oversubscription"),
    "no_interference": _switch("--no-interference", "simulation.interference", "false"),
    "no_contention": _switch("--no-contention", "simulation.contention", "false"),
    "compute_backend": _value("--compute-backend", "simulation.compute_backend"),
    "kernel_calibration": _value("--kernel-calibration", "simulation.kernel_calibration"),
    "kernel_cache": _value("--kernel-cache", "simulation.kernel_cache"),
}


# The keyword arguments of :func:`echosim.serve`: the ``echosim serve`` flags.
SERVE_FLAGS: dict[str, Flag] = {
    "model": _value("--model", "workload.serving.model"),
    "gpu": _value("--gpu", "cluster.gpu"),
    "tp": _value("--tp", "parallelism.tp"),
    "pp": _value("--pp", "parallelism.pp"),
    "replicas": _value("--replicas", "workload.serving.replicas"),
    "prefill_replicas": _value("--prefill-replicas", "workload.serving.prefill_replicas"),
    "decode_replicas": _value("--decode-replicas", "workload.serving.decode_replicas"),
    "scheduler": _value("--scheduler", "workload.serving.scheduler"),
    "router": _value("--router", "workload.serving.router"),
    "workload": _value("--workload", "workload.serving.workload"),
    "duration_s": _value("--duration-s", "workload.serving.duration_s"),
    "max_requests": _value("--max-requests", "workload.serving.max_requests"),
    "time_scale": _value("--time-scale", "workload.serving.time_scale"),
    "qps": _value("--qps", "workload.serving.target_qps"),
    "skip_bad_lines": _switch("--skip-bad-lines", "workload.serving.skip_bad_lines"),
    "seed": _value("--seed", "seed"),
    "max_batch_tokens": _value("--max-batch-tokens", "workload.serving.max_batch_tokens"),
    "max_num_seqs": _value("--max-num-seqs", "workload.serving.max_num_seqs"),
    "max_model_len": _value("--max-model-len", "workload.serving.max_model_len"),
    "block_size": _value("--block-size", "workload.serving.block_size_tokens"),
    "gpu_memory_utilization": _value("--gpu-memory-utilization",
                                     "workload.serving.gpu_memory_utilization"),
    "kv_blocks": _value("--kv-blocks", "workload.serving.kv_blocks"),
    "prefix_caching": _switch("--prefix-caching", "workload.serving.prefix_caching"),
    "dtype": _value("--dtype", "workload.serving.dtype"),
    "kv_dtype": _value("--kv-dtype", "workload.serving.kv_dtype"),
    "cpu_overhead_us": _value("--cpu-overhead-us", "workload.serving.cpu_overhead_per_iteration_us"),
    "cpu_overhead_per_seq_us": _value("--cpu-overhead-per-seq-us",
                                      "workload.serving.cpu_overhead_per_seq_us"),
    "cpu_overhead_per_new_request_us": _value("--cpu-overhead-per-new-request-us",
                                              "workload.serving.cpu_overhead_per_new_request_us"),
    "slo_ttft_ms": _value("--slo-ttft-ms", "workload.serving.slo_ttft_ms"),
    "slo_tpot_ms": _value("--slo-tpot-ms", "workload.serving.slo_tpot_ms"),
    "usd_per_gpu_hour": _value("--usd-per-gpu-hour", "workload.serving.usd_per_gpu_hour"),
    "nic_gbps": _value("--nic-gbps", "cluster.network.nic_gbps"),
    "nvlink_gbps": _value("--nvlink-gbps", "cluster.network.nvlink_gbps"),
    "no_timeline": _switch("--no-timeline", "output.timeline", "false"),
    "compute_backend": _value("--compute-backend", "workload.serving.compute_backend"),
    "kernel_cache": _value("--kernel-cache", "workload.serving.kernel_cache"),
}
