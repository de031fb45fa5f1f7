import json
import subprocess

import pandas as pd

import echosim

JOB = dict(model="gpt-18b", gpu="h100-sxm", gpus=64, global_batch=128)
SPACE = dict(tp=[2, 4, 8], pp=[1, 2, 4], vpp=[1, 2], cp=[1], micro_batch=[1, 2])


def test_ranked_valid_and_fitting():
    df = echosim.search_training_plans(**JOB, **SPACE, processes=2)
    assert len(df) > 5
    assert list(df["rank"]) == list(range(1, len(df) + 1))
    assert df["step_time_s"].is_monotonic_increasing
    assert df["fits_in_memory"].all() and df["error"].isna().all()
    assert (df["tp"] * df["pp"] * df["cp"] * df["dp"] == 64).all()
    a = df.attrs
    assert a["considered"] == a["invalid"] + a["over_memory"] + a["dominated"] + a["fitting"]
    assert a["fitting"] == len(df)
    # The best plan simulated on its own gives the same step time.
    best = df.iloc[0]
    one = echosim.train(**JOB, tp=int(best.tp), pp=int(best.pp), vpp=int(best.vpp),
                        micro_batch=int(best.micro_batch), zero=int(best.zero),
                        recompute=best.recompute, sequence_parallel=bool(best.sequence_parallel))
    assert one.step_time_s == best.step_time_s


def test_top_and_tiny_memory():
    top = echosim.search_training_plans(**JOB, **SPACE, top=3, processes=1)
    assert len(top) == 3
    # 1T parameters do not fit on 8 GPUs in any plan.
    none = echosim.search_training_plans("gpt-1t", "h100-sxm", 8, 8, processes=1)
    assert none.empty and none.attrs["over_memory"] > 0


def test_matches_the_cli(cli):
    df = echosim.search_training_plans(**JOB, **SPACE, processes=2)
    args = ["search", "--model", JOB["model"], "--gpu", JOB["gpu"], "--gpus", str(JOB["gpus"]),
            "--global-batch", str(JOB["global_batch"]), "--top", "0", "--threads", "2", "--json"]
    for k, v in SPACE.items():
        args += ["--" + k.replace("_", "-"), ",".join(map(str, v))]
    out = json.loads(subprocess.run([cli, *args], capture_output=True, text=True,
                                    check=True).stdout)
    assert out["simulated"] == len(df)
    assert out["considered"] == df.attrs["considered"]
    cli_df = pd.DataFrame(out["plans"])
    cols = ["tp", "pp", "vpp", "cp", "dp", "micro_batch", "zero", "recompute", "step_time_s"]
    pd.testing.assert_frame_equal(cli_df[cols].reset_index(drop=True),
                                  df[cols].reset_index(drop=True), check_dtype=False)


def test_bf16_optimizer_moments_let_more_plans_fit(cli):
    # gpt-39b on 8 GPUs: Adam's fp32 moments push plans over memory that bf16 ones fit.
    args = ["search", "--model", "gpt-39b", "--gpu", "h100-sxm", "--gpus", "8",
            "--global-batch", "32", "--top", "0", "--threads", "2", "--json",
            "--tp", "1,2,4,8", "--pp", "1,2,4", "--vpp", "1", "--cp", "1", "--micro-batch", "1",
            "--recompute", "none"]
    runs = {}
    for moments in ("fp32", "bf16"):
        out = subprocess.run([cli, *args, "--optimizer-moments", moments], capture_output=True,
                             text=True, check=True).stdout
        runs[moments] = json.loads(out)
    assert runs["bf16"]["over_memory"] < runs["fp32"]["over_memory"]
    assert runs["bf16"]["considered"] == runs["fp32"]["considered"]
