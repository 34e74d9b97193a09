"""`loggers: [tensorboard, mlflow]` on the smoke sweep, read back with the trackers' own clients."""

import importlib.util
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from autophagy import preflight, sweepfile
from autophagy.config import ConfigError
from autophagy.orchestrator import sweep

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "sweeps" / "smoke.yaml"
# W&B is an optional extra: logged to as well where it is installed
WANDB = ["wandb"] if importlib.util.find_spec("wandb") else []


@pytest.fixture(scope="module")
def tracked(ray_local, tmp_path_factory):
    # An hour between checkpoints: each chain's 4 generations arrive in one Tune report, which the
    # trackers must still log as 4 steps.
    cfg = sweepfile.load(SMOKE, {"generations": 3, "grid.ratio": [0.0, 1.0], "grid.seed": [0], "grid.mitigation": ["none"],
                              "checkpoint_interval_s": 3600, "loggers": ["tensorboard", "mlflow", *WANDB]})
    out = tmp_path_factory.mktemp("trackers") / "run"
    results = sweep.run(cfg, out, progress=False)
    assert all(r.error is None for r in results)
    return cfg, out, pd.read_parquet(out / "metrics")


def test_mlflow_has_one_run_per_chain_with_its_axes_and_every_generation(tracked, monkeypatch):
    from mlflow.tracking import MlflowClient

    cfg, out, df = tracked
    # the SQLite store, as `mlflow ui --backend-store-uri sqlite:///DIR/mlflow.db` reads it
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    client = MlflowClient(tracking_uri=f"sqlite:///{out}/mlflow.db")
    assert not (out / "mlruns").exists()
    experiment = client.get_experiment_by_name(cfg.name)
    runs = client.search_runs([experiment.experiment_id], "tags.chain_id != ''")
    (sweep_run,) = client.search_runs([experiment.experiment_id], "tags.`autophagy.role` = 'sweep'")
    assert sorted(r.data.tags["chain_id"] for r in runs) == sorted(df.chain_id.unique())
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {sweep_run.info.run_id}
    for run in runs:
        rows = df[df.chain_id == run.data.tags["chain_id"]].sort_values("generation")
        assert run.data.params == {"ratio": str(rows.ratio.iloc[0]), "seed": "0", "mitigation": "none"}
        history = sorted(client.get_metric_history(run.info.run_id, "kl"), key=lambda m: m.step)
        assert [m.step for m in history] == [0, 1, 2, 3]
        assert [m.value for m in history] == pytest.approx(rows.kl.tolist(), rel=1e-12)
        assert "ratio" not in run.data.metrics and "train_loss" in run.data.metrics
        assert run.info.status == "FINISHED"
    # the sweep's artifacts are in DIR, not in ./mlruns of the directory the sweep ran from
    assert Path(sweep_run.info.artifact_uri.removeprefix("file://")).is_relative_to(out / "mlartifacts")


def test_tensorboard_has_every_generation_of_every_chain(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, out, df = tracked
    assert sorted(p.name for p in (out / "tensorboard").iterdir()) == sorted(df.chain_id.unique())
    for chain, rows in df.groupby("chain_id"):
        events = EventAccumulator(str(out / "tensorboard" / chain))
        events.Reload()
        scalars = events.Scalars("ray/tune/kl")
        assert [s.step for s in scalars] == [0, 1, 2, 3]
        # tensorboard stores float32
        assert [s.value for s in scalars] == pytest.approx(rows.sort_values("generation").kl.tolist(), rel=1e-6)
        # the chain's axes as TensorBoard hparams (Ray's hparams code finds the writer by the trial)
        assert events.PluginTagToContent("hparams"), chain


@pytest.mark.skipif(not WANDB, reason="wandb is not installed (pip install 'autophagy[wandb]')")
def test_wandb_runs_offline_into_dir_one_run_per_chain(tracked):
    _, out, df = tracked
    runs = sorted((out / "wandb").glob("offline-run-*"))
    assert sorted(r.name.split("-", 3)[3] for r in runs) == sorted(df.chain_id.unique())
    assert all(list(r.glob("*.wandb")) for r in runs)


class _Trial:
    def __init__(self, chain):
        self.config = {"chain": chain}


def test_a_resumed_sweep_continues_each_chains_mlflow_run(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from autophagy.orchestrator import trackers

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri, cells = f"sqlite:///{tmp_path}/mlflow.db", {"c0": {"chain_id": "c0", "ratio": 0.5, "seed": 1, "mitigation": "none"}}
    for driver, generation in ((1, 0), (2, 1)):  # the first sweep, then its --resume: a new driver, new trials
        callback = trackers._mlflow()(tmp_path, "resumed", cells)
        callback.setup()
        trial = _Trial("c0")
        callback.log_trial_start(trial)
        callback.log_trial_result(0, trial, {"generations": [{"generation": generation, "metrics": {"kl": driver}}]})
        callback.log_trial_end(trial)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("resumed").experiment_id
    (run,) = client.search_runs([experiment], "tags.chain_id = 'c0'")
    (sweep_run,) = client.search_runs([experiment], "tags.`autophagy.role` = 'sweep'")
    assert run.data.tags["mlflow.parentRunId"] == sweep_run.info.run_id  # the UI nests the chain under the sweep
    assert run.data.params == {"ratio": "0.5", "seed": "1", "mitigation": "none"}
    assert sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "kl")) == [(0, 1.0), (1, 2.0)]
    assert run.info.status == "FINISHED"


def test_a_run_made_with_mlflows_file_store_keeps_it_and_the_tracking_uri_wins(tmp_path, monkeypatch):
    from autophagy.orchestrator import sweep_tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert sweep_tracking.mlflow_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    (tmp_path / "mlruns").mkdir()  # a run directory from before the SQLite store: its --resume finds its runs
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "")  # so that monkeypatch restores what was there
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    assert sweep_tracking.mlflow_uri(tmp_path) == (tmp_path.resolve() / "mlruns").as_uri()
    assert os.environ["MLFLOW_ALLOW_FILE_STORE"] == "true"  # else MLflow 3 refuses to open it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert sweep_tracking.mlflow_uri(tmp_path) == "http://tracking.example:5000"


def test_an_unknown_logger_is_refused_naming_the_file_and_field():
    with pytest.raises(ConfigError, match=r"smoke\.yaml: loggers\[1\]: must be one of 'tensorboard', 'mlflow', 'wandb'"):
        sweepfile.load(SMOKE, {"loggers": ["mlflow", "neptune"]})
    with pytest.raises(ConfigError, match=r"smoke\.yaml: loggers: duplicate names"):
        sweepfile.load(SMOKE, {"loggers": ["mlflow", "mlflow"]})
    with pytest.raises(ConfigError, match=r"smoke\.yaml: grid\.loggers: 'loggers' shapes the whole sweep and cannot be a grid axis"):
        sweepfile.load(SMOKE, {"grid.loggers": [["mlflow"], []]})


def test_a_logger_not_installed_is_refused_before_ray_starts(monkeypatch):
    cfg = sweepfile.load(SMOKE, {"loggers": ["wandb"]})
    monkeypatch.setitem(preflight.TRACKER_MODULES, "wandb", ("autophagy_no_such_module", "'autophagy[wandb]'"))
    with pytest.raises(ConfigError, match=r"smoke\.yaml: loggers\[0\]: wandb is not installed \(pip install 'autophagy\[wandb\]'\)"):
        preflight.check(cfg, str(SMOKE))


def test_report_logs_the_sweeps_answer_to_one_mlflow_run_and_a_rerun_updates_it(tmp_path, monkeypatch, capsys):
    """No Ray: a finished run's directory (test_analysis_report.make_run) with loggers [mlflow], reported twice."""
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = _reported_twice(tmp_path, "mlflow", capsys)

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name(cfg.name).experiment_id
    (run,) = client.search_runs([experiment])  # one run, updated: not one per report
    assert run.data.tags["autophagy.role"] == "sweep" and run.info.status == "FINISHED"
    assert run.data.params["generations"] == str(cfg.generations) and run.data.params["collapse.metric"] == "kl"
    assert {"report.html", "phase_diagram.png", "config.yaml", "thresholds.json", "comparisons.json"} <= \
        {f.path for f in client.list_artifacts(run.info.run_id)}
    def table(name):  # as log_table wrote it (load_table would want a model registry)
        data = json.loads(Path(client.download_artifacts(run.info.run_id, name, str(tmp_path))).read_text())
        return pd.DataFrame(data["data"], columns=data["columns"])

    logged = table("thresholds.json")
    on_disk = pd.read_csv(tmp_path / "analysis" / "thresholds.csv")
    assert len(logged) == len(on_disk) == 2  # replaced, not appended to, by the second report
    assert sorted(logged["mitigation"]) == sorted(on_disk["mitigation"])
    compared = table("comparisons.json")
    assert compared["series"].tolist() == ["accumulate"]


@pytest.mark.skipif(not WANDB, reason="wandb is not installed (pip install 'autophagy[wandb]')")
def test_report_logs_the_sweeps_answer_to_one_wandb_run_offline(tmp_path, monkeypatch, capsys):
    """As the MLflow test above, read back from W&B's offline files: the tables as its JSON table
    files, the config, the report as an artifact; a second report resumes the same run id."""
    from autophagy.orchestrator.sweep_tracking import wandb_sweep_id

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    cfg = _reported_twice(tmp_path, "wandb", capsys)

    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and {r.name.split("-", 3)[3] for r in runs} == {wandb_sweep_id(cfg.name)}  # one run id
    last = runs[-1]
    # wandb 0.31 has no Python reader of its record file (its core is Go): its protobuf strings are
    # read as bytes. The config, the job type, the group and the report's files are in it.
    (records,) = last.glob("run-*.wandb")
    raw = records.read_bytes()
    for text in ("collapse", "generations", "sweep", cfg.name, "report.html", "phase_diagram.png", "config.yaml"):
        assert text.encode() in raw, text

    def table(name):
        (path,) = (last / "files" / "media" / "table").glob(f"{name}_*.table.json")
        data = json.loads(path.read_text())
        return pd.DataFrame(data["data"], columns=data["columns"])

    on_disk = pd.read_csv(tmp_path / "analysis" / "thresholds.csv")
    logged = table("thresholds")
    assert list(logged.columns) == list(on_disk.columns) and sorted(logged["mitigation"]) == sorted(on_disk["mitigation"])
    assert table("comparisons")["series"].tolist() == ["accumulate"]


def _reported_twice(tmp_path, logger: str, capsys):
    """A finished run's directory (test_analysis_report.make_run) with `loggers: [logger]`, reported
    twice by the CLI; its config."""
    from autophagy import cli
    from test_analysis_report import make_run

    cfg, _ = make_run(tmp_path)
    cfg = sweepfile.from_dict({**cfg.to_dict(), "loggers": [logger]})
    sweepfile.dump(cfg, tmp_path / "config.yaml")
    for _ in range(2):
        assert cli.main(["report", str(tmp_path)]) == 0
    assert f"{logger} run" in capsys.readouterr().out
    return cfg
