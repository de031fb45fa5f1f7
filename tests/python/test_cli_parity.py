"""echosim.train and echosim.run give the CLI's answer for the same input."""

import json
import subprocess

import echosim
from conftest import SMALL

# Keywords for the output options (--timeline, --export-chakra, --kineto), not scenario fields.
OUTPUT_KEYWORDS = {"timeline", "export_chakra", "kineto"}
FLAG_KEYWORDS = set(echosim.train.__kwdefaults__) - {"set", "scenario"} - OUTPUT_KEYWORDS


def cli_json(cli, *args):
    out = subprocess.run([cli, *args, "--json"], capture_output=True, text=True, check=True)
    s = json.loads(out.stdout)
    s.pop("sim_wall_s")
    return s


def test_every_cli_train_flag_is_a_keyword(cli):
    usage = subprocess.run([cli, "--help"], capture_output=True, text=True).stdout
    section = usage.split("train options")[1].split("common output options")[0]
    flags = {w.strip("(),") for w in section.split() if w.startswith("--")}
    flags.discard("--set")
    assert {f[2:].replace("-", "_") for f in flags} == FLAG_KEYWORDS


def test_every_cli_output_flag_that_writes_a_file_is_a_keyword(cli):
    usage = subprocess.run([cli, "--help"], capture_output=True, text=True).stdout
    section = usage.split("common output options")[1]
    flags = {w.strip("(),") for w in section.split() if w.startswith("--")}
    # --json picks the printed format; --out is the CLI's folder of summary + timeline.
    flags -= {"--json", "--out", "--full"}
    assert {f[2:].replace("-", "_") for f in flags} == OUTPUT_KEYWORDS


def test_train_equals_cli(cli):
    args = ["train"]
    for k, v in SMALL.items():
        args += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
    py = echosim.train(**SMALL).summary
    py.pop("sim_wall_s")
    assert py == cli_json(cli, *args)


def test_run_equals_cli(cli, repo):
    path = repo / "scenarios" / "mixtral-8x7b-h100-64.yaml"
    py = echosim.Scenario.load(path).with_(**{"parallelism.zero": 1}).run().summary
    py.pop("sim_wall_s")
    assert py == cli_json(cli, "run", str(path), "--set", "parallelism.zero=1")


def test_chrome_trace_equals_cli(cli, repo, tmp_path):
    path = repo / "scenarios" / "llama3-70b-h100-64.yaml"
    out = tmp_path / "cli.json"
    subprocess.run([cli, "run", str(path), "--timeline", str(out)], check=True,
                   capture_output=True)
    assert echosim.Scenario.load(path).run().to_chrome_trace() == out.read_text()
