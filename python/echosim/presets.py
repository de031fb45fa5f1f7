"""What is built in: model, GPU and pipeline-schedule presets (``echosim list``)."""

from __future__ import annotations

import pandas as pd

from . import _echosim

__all__ = ["gpus", "models", "schedules"]


def models() -> pd.DataFrame:
    """Built-in model presets, indexed by name: layers, hidden, heads, kv_heads, head_dim, ffn_hidden,
    vocab, experts, top_k, mlp, norm, position, max_seq_len_tokens, tied_embeddings,
    sliding_window (tokens, 0 = none), full_attention_every, the mixture-of-experts and latent
    attention fields, the hybrid layer_pattern and Mamba-2 fields (mamba_heads, mamba_head_dim,
    mamba_state, mamba_groups, mamba_conv_kernel, mamba_chunk), params (total parameters) and
    description."""
    return pd.DataFrame(_echosim.model_presets()).set_index("name")


def gpus() -> pd.DataFrame:
    """Built-in GPU presets, indexed by name: dense peak TFLOP/s per dtype, HBM capacity
    (decimal GB) and bandwidth (TB/s), NVLink and NIC bandwidth (Gbit/s per direction)."""
    return pd.DataFrame(_echosim.gpu_presets()).set_index("name")


def schedules() -> pd.DataFrame:
    """Registered pipeline schedules, indexed by name, with a description."""
    return pd.DataFrame(_echosim.pipeline_schedules()).set_index("name")
