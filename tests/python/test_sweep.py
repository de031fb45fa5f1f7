import pandas as pd
import pytest

import echosim
from conftest import SMALL

GRID = {**SMALL, "tp": [1, 2, 4], "pp": [1, 2], "nic_gbps": [200, 400]}


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["sim_wall_s"]).reset_index(drop=True)


def test_expand_grid_order():
    combos = echosim.expand_grid({"a": [1, 2], "b": "x", "c": range(2)})
    assert combos == [{"a": 1, "b": "x", "c": 0}, {"a": 1, "b": "x", "c": 1},
                      {"a": 2, "b": "x", "c": 0}, {"a": 2, "b": "x", "c": 1}]


def test_grid_sweep_matches_single_runs():
    df = echosim.sweep(GRID, processes=2)
    assert len(df) == 12
    assert list(df.columns[:len(GRID)]) == list(GRID)
    assert df["error"].isna().all()
    for i in (0, 5, 11):
        row = df.iloc[i]
        one = echosim.train(**{k: row[k] for k in GRID})
        assert row["step_time_s"] == one.step_time_s
        assert row["compute_s"] == one.breakdown["compute_s"]


def test_local_processes_equal_serial():
    serial = echosim.sweep(GRID, processes=1)
    parallel = echosim.sweep(GRID, processes=2)
    pd.testing.assert_frame_equal(comparable(serial), comparable(parallel))


def test_sweep_over_scenarios_and_base(repo):
    base = echosim.Scenario.load(repo / "scenarios" / "llama3-70b-h100-64.yaml")
    df = echosim.sweep({"cluster.network.nic_gbps": [100, 400]}, base=base, processes=1)
    assert df.loc[0, "step_time_s"] > df.loc[1, "step_time_s"]
    listed = echosim.sweep([base.with_(nic_gbps=100), base.with_(nic_gbps=400)], processes=1)
    assert list(listed["step_time_s"]) == list(df["step_time_s"])


def test_errors_recorded_or_raised():
    configs = [{**SMALL}, {**SMALL, "tp": 3}, {**SMALL, "model": "nope"}]
    df = echosim.sweep(configs, processes=2)
    assert df.loc[0, "error"] is None
    assert "tp" in df.loc[1, "error"]
    assert "unknown model 'nope'" in df.loc[2, "error"]
    assert pd.isna(df.loc[1, "step_time_s"])
    with pytest.raises(ValueError, match="tp"):
        echosim.sweep(configs, processes=1, errors="raise")


def test_dask_local_cluster_equals_serial():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_dask = echosim.sweep(GRID, client=client)
    serial = echosim.sweep(GRID, processes=1)
    pd.testing.assert_frame_equal(comparable(on_dask), comparable(serial))
