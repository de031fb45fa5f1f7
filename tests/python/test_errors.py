"""Bad input raises ValueError with the CLI's message (never a crash)."""

import subprocess

import pytest

import echosim
from conftest import SMALL


def cli_error(cli, *args):
    p = subprocess.run([cli, *args], capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    line = p.stderr.splitlines()[0]
    assert line.startswith("echosim: error: ")
    return line[len("echosim: error: "):]


def small_args(**override):
    kw = {**SMALL, **override}
    args = []
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        else:
            args += [flag, str(v)]
    return args


@pytest.mark.parametrize("override", [
    {"model": "no-such-model"},          # unknown name
    {"gpu": "tpu-v9"},                   # unknown GPU
    {"tp": "four"},                      # wrong type
    {"tp": 2.5},                         # wrong type
    {"tp": 3},                           # impossible plan: 16 GPUs not divisible by 3*2
    {"pp": 5},                           # impossible plan: layers not divisible
    {"global_batch": 30},                # batch not divisible by micro_batch*dp
    {"recompute": "some"},               # not a valid choice
    {"dtype": "int4"},
    {"gpus": -8},
])
def test_train_error_is_the_cli_message(cli, override):
    with pytest.raises(ValueError) as e:
        echosim.train(**{**SMALL, **override})
    assert str(e.value) == cli_error(cli, "train", *small_args(**override))


def test_missing_required_field(cli):
    with pytest.raises(ValueError) as e:
        echosim.train(model="llama3-8b", gpu="h100-sxm", gpus=8)
    assert str(e.value) == cli_error(cli, "train", "--model", "llama3-8b", "--gpu", "h100-sxm",
                                     "--gpus", "8")


def test_scenario_errors_are_the_cli_messages(cli, repo, tmp_path):
    path = repo / "scenarios" / "gpt3-175b-h100-1024.yaml"
    sc = echosim.Scenario.load(path)
    with pytest.raises(ValueError) as e:
        sc.with_(**{"parallelism.tp": "x"})
    assert str(e.value) == cli_error(cli, "run", str(path), "--set", "parallelism.tp=x")
    with pytest.raises(ValueError) as e:
        sc.with_(**{"parallelism.nope": 1})
    assert str(e.value) == cli_error(cli, "run", str(path), "--set", "parallelism.nope=1")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster:\n  gpus: many\n")
    with pytest.raises(ValueError) as e:
        echosim.Scenario.load(bad)
    assert str(e.value) == cli_error(cli, "run", str(bad))
    with pytest.raises(ValueError) as e:
        echosim.Scenario.load(tmp_path / "missing.yaml")
    assert str(e.value) == cli_error(cli, "run", str(tmp_path / "missing.yaml"))


def test_python_type_errors():
    with pytest.raises(ValueError, match="--sequence-parallel"):
        echosim.train(**{**SMALL, "sequence_parallel": "yes"})
    with pytest.raises(ValueError):
        echosim.Scenario.from_dict({"cluster": {"gpus": [1, 2]}})
    with pytest.raises(ValueError):
        echosim.Scenario.from_dict(["not", "a", "dict"])
    with pytest.raises(ValueError):
        echosim.Scenario.from_bytes(b"\xff\xff\xff garbage")
    with pytest.raises(ValueError):
        echosim.run("not a scenario")
    with pytest.raises(TypeError):
        echosim.train(**SMALL, bogus=1)
    with pytest.raises(ValueError):
        echosim.sweep([1, 2, 3])
