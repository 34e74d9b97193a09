"""Experiment trackers, opt-in by the sweep's `loggers: [tensorboard, mlflow, wandb]`.

Each is Ray Tune's own logger callback, run on the driver, with one run per chain: the chain's
cell (ratio, seed, mitigation, extra axes) as its parameters, and every generation's numeric
metrics at step = generation. Ray's callbacks log a report's top-level numbers at step = Tune's
iteration; a chain's report carries a list of generations instead (several in one report under
`checkpoint_interval_s`), so each class here hands Ray's code one result per generation.
The trial puts the row's numbers into those entries only when `loggers` is set (trial.progress).

Where they write, with nothing configured: TensorBoard to DIR/tensorboard/<chain_id>; MLflow to
the SQLite store DIR/mlflow.db (artifacts in DIR/mlartifacts; MLFLOW_TRACKING_URI, if set, wins),
experiment = the sweep's name, each chain's run a child of the sweep's (sweep_tracking.py);
W&B offline into DIR/wandb (WANDB_MODE, WANDB_PROJECT, if set, win). The Parquet rows stay the
record: a tracker is a view of them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ray.tune.logger import TBXLoggerCallback
from ray.tune.result import TRAINING_ITERATION

from autophagy.orchestrator import sweep_tracking

NAMES = ("tensorboard", "mlflow", "wandb")


def callbacks(cfg, out: Path, cells: dict[str, dict]) -> list:
    """The Tune callbacks of the sweep's `loggers`, in the order listed."""
    make = {"tensorboard": lambda: TensorBoard(Path(out) / "tensorboard", cells),
            "mlflow": lambda: _mlflow()(Path(out), cfg.name, cells),
            "wandb": lambda: _wandb()(Path(out), cfg.name, cells)}
    return [make[name]() for name in cfg.loggers]


def axes(trial, cells: dict[str, dict]) -> dict:
    """The chain's axis values: a search hands its trial the cell, a grid trial names its chain."""
    cell = trial.config.get("cell") or cells[trial.config["chain"]]
    return {k: v for k, v in cell.items() if k != "chain_id"}


def generations(result: dict, skip: dict) -> list[tuple[int, dict[str, float]]]:
    """(generation, numeric metrics) of each generation in a Tune report, without the axes."""
    return [(g["generation"], {k: v for k, v in g["metrics"].items() if k not in skip and k != "generation"})
            for g in result.get("generations", ()) if g.get("metrics")]


class TensorBoard(TBXLoggerCallback):
    def __init__(self, root: Path, cells: dict[str, dict]):
        super().__init__()
        self.root, self.cells = Path(root), cells

    def log_trial_start(self, trial):
        # Ray's writes into the trial's own directory, which DIR/tune syncs only at checkpoints.
        if trial in self._trial_writer:
            self._trial_writer[trial].close()
        self._trial_writer[trial] = self._summary_writer_cls(str(self.root / trial.config["chain"]), flush_secs=30)
        self._trial_result[trial] = {}

    def log_trial_result(self, iteration, trial, result):
        for generation, metrics in generations(result, axes(trial, self.cells)):
            super().log_trial_result(iteration, trial, {TRAINING_ITERATION: generation, **metrics})

    def _try_log_hparams(self, trial, result):
        # the chain's axes, not Tune's config of the trial ({"chain": id})
        super()._try_log_hparams(_WithAxes(trial, axes(trial, self.cells)), result)


class _WithAxes:
    """A trial whose `evaluated_params` are the chain's axes. Ray's hparams code reads those and
    then finds the trial's writer by the trial itself, so this hashes and compares as the trial."""

    def __init__(self, trial, params: dict):
        self.trial, self.evaluated_params = trial, params

    def __hash__(self):
        return hash(self.trial)

    def __eq__(self, other):
        return other is self.trial or (isinstance(other, _WithAxes) and other.trial is self.trial)


def _mlflow():
    """MLflow's callback, defined only when listed: importing mlflow takes seconds (3 s on 2 busy
    cores), which every `autophagy run` would pay, a tracker or not."""
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    class MLflow(MLflowLoggerCallback):
        def __init__(self, out: Path, experiment: str, cells: dict[str, dict]):
            super().__init__(sweep_tracking.mlflow_uri(out), experiment_name=experiment)
            self.out, self.cells = out, cells

        def setup(self, *args, **kwargs):
            from mlflow.tracking import MlflowClient

            # made here first, so that its artifacts stay in DIR (Ray's setup would make it without)
            sweep_tracking.experiment_id(MlflowClient(self.tracking_uri), self.experiment_name, self.out)
            super().setup(*args, **kwargs)

        def log_trial_start(self, trial):
            if trial not in self._trial_runs:  # a retried trial keeps its run
                self._trial_runs[trial] = self._run(trial.config["chain"], axes(trial, self.cells))

        def _run(self, chain: str, params: dict) -> str:
            """The chain's run, a child of the sweep's (sweep_tracking.py): the one a sweep before this
            `--resume` started, or a new one."""
            client, experiment = self.mlflow_util._get_client(), self.mlflow_util.experiment_id
            parent = {"mlflow.parentRunId": sweep_tracking.sweep_run_id(client, experiment, self.experiment_name)}
            found = client.search_runs([experiment], f"tags.chain_id = '{chain}'", max_results=1)
            if found:
                client.set_tag(found[0].info.run_id, "mlflow.parentRunId", parent["mlflow.parentRunId"])
                client.update_run(found[0].info.run_id, "RUNNING")
                return found[0].info.run_id
            run = self.mlflow_util.start_run(run_name=chain, tags={**self.tags, **parent, "chain_id": chain})
            self.mlflow_util.log_params(run_id=run.info.run_id, params_to_log=params)
            return run.info.run_id

        def log_trial_result(self, iteration, trial, result):
            from mlflow.entities import Metric

            # One batch per generation: Ray's log_metrics sends a request per metric (about 40 per
            # digits generation), each a round trip to a tracking server.
            client, run_id, now = self.mlflow_util._get_client(), self._trial_runs[trial], int(time.time() * 1000)
            for generation, metrics in generations(result, axes(trial, self.cells)):
                client.log_batch(run_id, metrics=[Metric(k, float(v), now, generation) for k, v in metrics.items()])

    return MLflow


def _wandb():
    """W&B is an optional extra (`pip install 'autophagy[wandb]'`; preflight checks it is there):
    its callback is defined only when listed."""
    from ray.air.integrations.wandb import WandbLoggerCallback

    class WandB(WandbLoggerCallback):
        def __init__(self, out: Path, project: str, cells: dict[str, dict]):
            super().__init__(project=os.environ.get("WANDB_PROJECT") or project, group=project,  # the sweep's
                             mode=os.environ.get("WANDB_MODE", "offline"), dir=str(out))  # run joins it too
            self.cells = cells

        def setup(self, *args, **kwargs):
            if self.kwargs["mode"] in ("offline", "disabled"):  # Ray asks for an API key unless WANDB_MODE says so
                return
            super().setup(*args, **kwargs)

        def log_trial_start(self, trial):
            chain = trial.config["chain"]  # the run's id too: a --resume continues it
            self._start_logging_actor(trial, [*self._exclude_results, *self.excludes, "config"], id=chain, name=chain,
                                      resume="allow", group=self.group, project=self.project,
                                      config=axes(trial, self.cells), **self.kwargs)

        def log_trial_result(self, iteration, trial, result):
            for generation, metrics in generations(result, axes(trial, self.cells)):
                super().log_trial_result(iteration, trial, {TRAINING_ITERATION: generation, **metrics})

    return WandB
