"""The sweep's own tracker run: its answer where a team already looks (`loggers` listing mlflow or wandb).

The end of `autophagy run` and every `autophagy report` log, into the sweep's experiment (its name),
one run tagged `autophagy.role = sweep`: the config as params (dotted keys), thresholds.csv and
comparisons.csv as tables (`log_table`), report.html and the phase diagram as artifacts. Each chain's
run (trackers.py) is its child (`mlflow.parentRunId`), so the UI groups them. A report rebuilt later
updates that run, found by its tag: the tables are replaced, not appended to (log_table appends to an
existing file, so the old one is deleted first). Imports no Ray: `autophagy report` runs without it.

W&B (`log_sweep_wandb`): one run of id `<sweep name>-sweep`, job type `sweep`, in the group of the
sweep's name that its chains' runs join (trackers.py): the config, the tables as `wandb.Table`s, and
report.html with the phase diagram as an artifact. Offline into DIR/wandb unless WANDB_MODE says
otherwise; each report resumes the same id, so a synced project shows one sweep run, at its latest.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

ROLE_TAG = "autophagy.role"
# MLflow refuses a param value longer than this (mlflow.utils.validation.MAX_PARAM_VAL_LENGTH)
MAX_PARAM = 6000


def mlflow_uri(out: Path) -> str:
    """Where a sweep's MLflow runs go: MLFLOW_TRACKING_URI if set, else the SQLite store DIR/mlflow.db
    (`mlflow ui --backend-store-uri sqlite:///DIR/mlflow.db` reads it as it is). A run directory made
    with the file store before (DIR/mlruns and no mlflow.db) keeps it, so a --resume finds its runs."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    out = Path(out).resolve()
    if (out / "mlruns").is_dir() and not (out / "mlflow.db").exists():
        # MLflow 3 opens a file store (in maintenance mode) only with this set
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        return (out / "mlruns").as_uri()
    return f"sqlite:///{out / 'mlflow.db'}"


def experiment_id(client, name: str, out: Path) -> str:
    """The sweep's experiment, made if new. In the SQLite store its artifacts go to DIR/mlartifacts:
    left to MLflow they would land in ./mlruns of whatever directory the command ran from."""
    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    local = not os.environ.get("MLFLOW_TRACKING_URI") and mlflow_uri(out).startswith("sqlite:")
    return client.create_experiment(name, artifact_location=(Path(out).resolve() / "mlartifacts").as_uri() if local else None)


def sweep_run_id(client, experiment_id: str, name: str) -> str:
    """The sweep's run in this experiment: the one a report or driver before made, else a new one."""
    found = client.search_runs([experiment_id], f"tags.`{ROLE_TAG}` = 'sweep'", max_results=1)
    if found:
        return found[0].info.run_id
    return client.create_run(experiment_id, run_name=name, tags={ROLE_TAG: "sweep"}).info.run_id


def log_sweep(cfg, out: Path, paths: dict[str, Path], tables: dict[str, pd.DataFrame]) -> str:
    """Log (or update) the sweep's run; returns its id. `paths`: build_report's; `tables`: name -> table."""
    from mlflow.entities import Param
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri(out))
    run_id = sweep_run_id(client, experiment_id(client, cfg.name, out), cfg.name)
    run = client.get_run(run_id)
    # Params cannot change once logged: a config changed by `--resume --set` keeps its first values,
    # and the run's config.yaml artifact (replaced each time) is the current one.
    params = [Param(k, v) for k, v in _flat(cfg.to_dict()).items() if k not in run.data.params]
    for i in range(0, len(params), 100):  # MLflow takes at most 100 params a batch
        client.log_batch(run_id, params=params[i:i + 100])
    repo = get_artifact_repository(run.info.artifact_uri)
    present = {f.path for f in client.list_artifacts(run_id)}
    for name, table in tables.items():
        if f"{name}.json" in present:
            repo.delete_artifacts(f"{name}.json")
        client.log_table(run_id, table, f"{name}.json")
    for name in ("report", "phase_diagram"):
        if name in paths:
            client.log_artifact(run_id, str(paths[name]))
    client.log_artifact(run_id, str(Path(out) / "config.yaml"))
    client.set_terminated(run_id, "FINISHED")
    return run_id


def wandb_sweep_id(name: str) -> str:
    """The sweep's W&B run id: its name in the characters W&B takes, then `-sweep` (a chain's run id
    is its chain id, which never ends so)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:100] + "-sweep"


def log_sweep_wandb(cfg, out: Path, paths: dict[str, Path], tables: dict[str, pd.DataFrame]) -> str:
    """Log (or update) the sweep's W&B run; returns its id. Arguments as log_sweep's."""
    import wandb

    run_id = wandb_sweep_id(cfg.name)
    run = wandb.init(project=os.environ.get("WANDB_PROJECT") or cfg.name, id=run_id, name=f"{cfg.name} (sweep)",
                     resume="allow", group=cfg.name, job_type="sweep", dir=str(out), config=cfg.to_dict(),
                     mode=os.environ.get("WANDB_MODE", "offline"), reinit="create_new")
    try:
        run.log({name: wandb.Table(dataframe=_json_cells(table)) for name, table in tables.items()})
        artifact = wandb.Artifact(f"{run_id}-report", type="report")
        for name in ("report", "phase_diagram"):
            if name in paths:
                artifact.add_file(str(paths[name]))
        artifact.add_file(str(Path(out) / "config.yaml"))
        run.log_artifact(artifact)
    finally:
        run.finish()
    return run_id


def _json_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The table with NaN and ±inf as None: a W&B table cell is JSON, which has neither."""
    finite = table.notna() & ~table.isin([float("inf"), float("-inf")])
    return table.astype(object).where(finite, None)


def _flat(d: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v)[:MAX_PARAM]
    return out
