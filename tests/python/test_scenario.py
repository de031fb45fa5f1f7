import pickle

import echosim


def test_load_matches_file(repo):
    sc = echosim.Scenario.load(repo / "scenarios" / "gpt3-175b-h100-1024.yaml")
    assert sc.get("cluster.gpus") == 1024
    assert sc.get("parallelism.tp") == 8
    assert sc.get("workload.training.model") == "gpt3-175b"
    assert sc.get("parallelism.nonexistent", "absent") == "absent"


def test_from_dict_round_trips():
    d = {"cluster": {"gpu": "h100-sxm", "gpus": 64},
         "workload": {"training": {"model": "llama3-8b", "global_batch_seqs": 64}},
         "parallelism": {"tp": 4, "sequence_parallel": True}}
    sc = echosim.Scenario.from_dict(d)
    assert sc.to_dict() == d
    assert echosim.Scenario.from_dict(sc.to_dict()) == sc
    # to_yaml prints every field (leaving out unset optionals), so the YAML of a resolved
    # scenario reads back exactly.
    resolved = sc.resolved()
    assert echosim.Scenario.from_yaml(resolved.to_yaml()) == resolved


def test_with_dotted_keys_and_dict_form(repo):
    sc = echosim.Scenario.load(repo / "scenarios" / "gpt3-175b-h100-1024.yaml")
    a = sc.with_(**{"parallelism.tp": 4, "cluster.network.nic_gbps": 200.5})
    b = sc.with_({"parallelism.tp": 4, "cluster.network.nic_gbps": 200.5})
    assert a == b
    assert a.get("parallelism.tp") == 4
    assert a.get("cluster.network.nic_gbps") == 200.5
    # Immutable: the original is unchanged.
    assert sc.get("parallelism.tp") == 8
    # train() keywords name the CLI flag's field.
    assert sc.with_(tp=2, micro_batch=2).get("workload.training.micro_batch_seqs") == 2
    # None clears a field back to its default.
    assert sc.with_(**{"parallelism.vpp": None}).get("parallelism.vpp") is None


def test_with_merges_message_and_replaces():
    sc = echosim.Scenario().with_(cluster={"gpu": "h100-sxm", "gpus": 8})
    assert sc.get("cluster.gpus") == 8
    sc = sc.with_(cluster={"gpus": 16})
    assert sc.get("cluster.gpu") == "h100-sxm" and sc.get("cluster.gpus") == 16


def test_resolved_fills_defaults(repo):
    sc = echosim.Scenario.load(repo / "scenarios" / "llama3-70b-h100-64.yaml").resolved()
    assert sc.get("cluster.gpus_per_node") == 8
    assert sc.get("parallelism.dp") > 0
    assert "pipeline_schedule" in sc.to_yaml()


def test_pickle_and_hash(repo):
    sc = echosim.Scenario.load(repo / "scenarios" / "mixtral-8x7b-h100-64.yaml")
    again = pickle.loads(pickle.dumps(sc))
    assert again == sc and hash(again) == hash(sc)
    assert len({sc, again, sc.with_(tp=1)}) == 2
