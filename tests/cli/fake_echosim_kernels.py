#!/usr/bin/env python3
"""A stand-in for the `echosim-kernels` harness (kernels/) for tests on machines without a GPU.

It implements the harness's command-line contract (info, measure, calibrate, stage, decode)
with SYNTHETIC durations from the fixed formulas below. They test the simulator's plumbing
(files, errors, caching, reports); they are not measurements of anything and must never be
written to hardware/calibration/ or quoted as results. Select it with
ECHOSIM_KERNELS=tests/cli/fake_echosim_kernels.py.

Synthetic durations (microseconds):
  gemm         2 + flops / (400e12 * d / (d + 128)) * 1e6, d = min(m, n, k); fp8: 2x the rate
  attention    3 + flops / 250e12 * 1e6 (forward), 3 + flops / 180e12 * 1e6 (".bwd")
  memory_bound 2.5 + bytes / 2.5e12 * 1e6
  optimizer    4 + bytes / 2.0e12 * 1e6
stage: 1F1B of M micro-batches = M * layers * (forward + backward of one layer) + one Adam
  step (its op under "optimizer", as the real harness writes it),
  with the layer ops built here from the same first-order shapes (GEMM FLOPs 2 * tokens *
  weights, attention 2 * b * s^2 * hidden fwd, memory-bound passes of the activations).
decode: per iteration, layers * (weights / 2.5e12 + batch * context * kv bytes / 2.5e12
  + 20 kernels * 3 us), in milliseconds.

Environment knobs for tests:
  FAKE_KERNELS_MODE=nogpu      every command exits 3 ("no CUDA device: ...")
  FAKE_KERNELS_MODE=malformed  measure writes a broken second line
  FAKE_KERNELS_LOG=FILE        appends "COMMAND N_OPS" per invocation (to count measurements)
  FAKE_KERNELS_SLEEP=SECONDS   measure takes this long (to overlap two echosim processes)
"""

import json
import os
import sys
import time


def die(code, msg):
    print(msg, file=sys.stderr)
    sys.exit(code)


def arg(args, flag, default=None):
    if flag in args:
        i = args.index(flag)
        if i + 1 >= len(args):
            die(2, f"{flag} needs a value")
        return args[i + 1]
    if default is None:
        die(2, f"missing {flag}")
    return default


def synthetic_us(op):
    cls = op.get("class")
    flops = float(op.get("flops", 0))
    nbytes = float(op.get("bytes", 0))
    if cls == "gemm":
        d = min(int(op["m"]), int(op["n"]), int(op["k"]))
        rate = 400e12 * d / (d + 128) * (2 if op.get("dtype") == "fp8" else 1)
        return 2 + flops / rate * 1e6
    if cls == "attention":
        rate = 180e12 if op.get("name", "").endswith(".bwd") else 250e12
        return 3 + flops / rate * 1e6
    if cls == "memory_bound":
        return 2.5 + nbytes / 2.5e12 * 1e6
    if cls == "optimizer":
        return 4 + nbytes / 2.0e12 * 1e6
    die(2, f"unknown class '{cls}'")


def log(command, n):
    path = os.environ.get("FAKE_KERNELS_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{command} {n}\n")


def measured(op):
    us = synthetic_us(op)
    out = dict(op)
    out.update(median_us=round(us, 6), p10_us=round(us * 0.99, 6), p90_us=round(us * 1.01, 6),
               repeats=30, kernel="fake-synthetic")
    return out


def cmd_measure(args):
    ops = []
    with open(arg(args, "--ops")) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                ops.append(json.loads(line))
            except json.JSONDecodeError:
                die(2, f"--ops line {n}: not JSON")
    log("measure", len(ops))
    time.sleep(float(os.environ.get("FAKE_KERNELS_SLEEP", "0")))
    with open(arg(args, "--out"), "w") as f:
        for i, op in enumerate(ops):
            if os.environ.get("FAKE_KERNELS_MODE") == "malformed" and i == 1:
                f.write('{"name": "broken", "median_us": \n')
                continue
            f.write(json.dumps(measured(op)) + "\n")


def cmd_calibrate(args):
    gpu = arg(args, "--gpu")
    samples = []
    for dtype in ("bf16", "fp8"):
        for m in (256, 1024, 4096, 16384):
            for n in (512, 2048, 8192):
                for k in (128, 1024, 8192):
                    samples.append({"name": "gemm", "class": "gemm", "dtype": dtype, "m": m, "n": n,
                                    "k": k, "batch": 1, "flops": 2.0 * m * n * k,
                                    "bytes": 2.0 * (m * k + k * n + m * n)})
    for s in (1024, 4096):
        for name, mult in (("attn.fwd", 1.0), ("attn.bwd", 2.5)):
            samples.append({"name": name, "class": "attention", "dtype": "bf16", "m": s, "n": s,
                            "k": 128, "batch": 32, "flops": 2.0 * s * s * 128 * 32 * mult,
                            "bytes": 4.0 * s * 128 * 32 * 2})
    for b in (1 << 20, 1 << 24, 1 << 28):
        samples.append({"name": "ln1.fwd", "class": "memory_bound", "dtype": "bf16", "m": 0, "n": 0,
                        "k": 0, "batch": 1, "flops": 0, "bytes": float(b)})
        samples.append({"name": "optimizer.adam", "class": "optimizer", "dtype": "bf16", "m": 0,
                        "n": 0, "k": 0, "batch": 1, "flops": 0, "bytes": float(b * 4)})
    log("calibrate", len(samples))
    with open(arg(args, "--out"), "w") as f:
        f.write("# SYNTHETIC test calibration written by tests/cli/fake_echosim_kernels.py\n")
        f.write("kind: kernel_calibration\n")
        f.write(f"gpu: {gpu}\n")
        f.write('device: "FAKE GPU (synthetic timings)"\n')
        f.write('compute_capability: "0.0"\nsm_count: 132\ndriver_version: "fake"\n')
        f.write('cuda_runtime_version: "fake"\nmeasured_at: "1970-01-01T00:00:00Z"\n')
        f.write("clocks: {sm_mhz: 0, max_sm_mhz: 0, mem_mhz: 0, locked: false}\n")
        f.write("method: {warmup: 0, repeats: 1, statistic: median, timer: synthetic}\n")
        f.write("samples:\n")
        for s in samples:
            m = measured(s)
            fields = ", ".join(f"{k}: {json.dumps(v)}" for k, v in m.items())
            f.write(f"  - {{{fields}}}\n")


def layer_ops(hidden, heads, kv_heads, ffn, seq, mb, swiglu):
    t = seq * mb
    hd = hidden // heads
    qkv = hidden + 2 * kv_heads * hd
    fc1 = 2 * ffn if swiglu else ffn
    act = 2 * t * hidden

    def gemm(name, m, n, k):
        return {"name": name, "class": "gemm", "dtype": "bf16", "m": m, "n": n, "k": k, "batch": 1,
                "flops": 2.0 * m * n * k, "bytes": 2.0 * (m * k + k * n + m * n)}

    def mem(name, nbytes):
        return {"name": name, "class": "memory_bound", "dtype": "bf16", "m": 0, "n": 0, "k": 0,
                "batch": 1, "flops": 0, "bytes": float(nbytes)}

    def attn(name, mult):
        return {"name": name, "class": "attention", "dtype": "bf16", "m": seq, "n": seq, "k": hd,
                "batch": mb * heads, "flops": 2.0 * mb * seq * seq * hidden * mult,
                "bytes": 4.0 * t * hidden * 2}

    fwd = [mem("ln1.fwd", 2 * act), gemm("qkv.fwd", t, qkv, hidden), mem("rope.fwd", 2 * act),
           attn("attn.fwd", 1.0), gemm("proj.fwd", t, hidden, hidden), mem("ln2.fwd", 2 * act),
           gemm("mlp.fc1.fwd", t, fc1, hidden), mem("mlp.act.fwd", 3 * t * ffn * 2),
           gemm("mlp.fc2.fwd", t, hidden, ffn)]
    bwd = [gemm("mlp.fc2.dgrad", t, ffn, hidden), gemm("mlp.fc2.wgrad", ffn, hidden, t),
           mem("mlp.act.bwd", 4 * t * ffn * 2), gemm("mlp.fc1.dgrad", t, hidden, fc1),
           gemm("mlp.fc1.wgrad", hidden, fc1, t), mem("ln2.bwd", 3 * act),
           gemm("proj.dgrad", t, hidden, hidden), gemm("proj.wgrad", hidden, hidden, t),
           attn("attn.bwd", 2.5), mem("rope.bwd", 2 * act), gemm("qkv.dgrad", t, hidden, qkv),
           gemm("qkv.wgrad", hidden, qkv, t), mem("ln1.bwd", 3 * act)]
    params = hidden * qkv + hidden * hidden + hidden * fc1 + ffn * hidden
    return fwd, bwd, params


def cmd_stage(args):
    layers = int(arg(args, "--layers"))
    hidden, heads = int(arg(args, "--hidden")), int(arg(args, "--heads"))
    kv_heads, ffn = int(arg(args, "--kv-heads", str(heads))), int(arg(args, "--ffn"))
    seq, mb, mbs = int(arg(args, "--seq")), int(arg(args, "--micro-batch")), int(arg(args, "--micro-batches"))
    swiglu = arg(args, "--mlp", "gelu") == "swiglu"
    fwd, bwd, params = layer_ops(hidden, heads, kv_heads, ffn, seq, mb, swiglu)
    ops = [measured(o) for o in fwd + bwd]  # one layer's forward and backward
    opt = measured({"name": "optimizer.adam", "class": "optimizer", "dtype": "bf16", "m": 0, "n": 0,
                    "k": 0, "batch": 1, "flops": 0, "bytes": 16.0 * params * layers})
    step_us = mbs * layers * sum(o["median_us"] for o in ops) + opt["median_us"]
    log("stage", len(ops))
    config = {k.lstrip("-"): v for k, v in zip(args[1::2], args[2::2]) if k != "--out"}
    with open(arg(args, "--out"), "w") as f:
        json.dump({"config": config, "measured_step_ms": step_us / 1e3, "repeats": 5, "ops": ops,
                   "optimizer": opt}, f)


def cmd_decode(args):
    hidden, heads = int(arg(args, "--hidden")), int(arg(args, "--heads"))
    kv_heads, ffn, layers = int(arg(args, "--kv-heads", str(heads))), int(arg(args, "--ffn")), int(arg(args, "--layers"))
    batches = [int(b) for b in arg(args, "--batch-sizes").split(",")]
    start, end, step = (int(x) for x in arg(args, "--context").split(":"))
    hd = hidden // heads
    weights = 2.0 * (hidden * (hidden + 2 * kv_heads * hd) + hidden * hidden + 3 * hidden * ffn)
    its = []
    for b in batches:
        for c in range(start, end + 1, step):
            kv = 2.0 * 2 * kv_heads * hd * b * c
            us = layers * ((weights + kv) / 2.5e12 * 1e6 + 20 * 3)
            its.append({"batch": b, "context_tokens": c, "measured_iter_ms": us / 1e3})
    log("decode", len(its))
    config = {k.lstrip("-"): v for k, v in zip(args[1::2], args[2::2]) if k != "--out"}
    with open(arg(args, "--out"), "w") as f:
        json.dump({"config": config, "iterations": its}, f)


def main():
    args = sys.argv[1:]
    if not args:
        die(2, "usage: echosim-kernels info|measure|calibrate|stage|decode ...")
    if os.environ.get("FAKE_KERNELS_MODE") == "nogpu":
        die(3, "no CUDA device: cudaGetDeviceCount returned 0 (fake harness, FAKE_KERNELS_MODE=nogpu)")
    cmd = args[0]
    if cmd == "info":
        log("info", 0)
        print(json.dumps({"device": "FAKE GPU (synthetic timings)", "compute_capability": "0.0",
                          "sm_count": 132, "driver_version": "fake", "cuda_runtime_version": "fake",
                          "clocks_locked": False}))
    elif cmd == "measure":
        cmd_measure(args)
    elif cmd == "calibrate":
        cmd_calibrate(args)
    elif cmd == "stage":
        cmd_stage(args)
    elif cmd == "decode":
        cmd_decode(args)
    else:
        die(2, f"unknown command '{cmd}'")


if __name__ == "__main__":
    main()
