"""Run a sweep: the grid becomes Ray Tune trials, rows land in DIR/metrics, the report follows.

    autophagy run SWEEP.yaml [--out DIR] [--resume]

One driver at a time per DIR (orchestrator/lock.py: DIR/driver.lock and DIR/driver.json); a
second is refused before Ray starts. DIR/config.yaml (the resolved config) is written before any work starts. DIR/tune is Tune's
experiment directory (trial checkpoints, experiment state); `--resume` restores it with
`Tuner.restore`, continuing unfinished and failed chains from their last checkpoint. When that
state cannot be read (cut short by a full disk, or deleted), `--resume` moves DIR/tune aside to
DIR/tune-unreadable-<n> and starts a fresh experiment whose chains continue from DIR's own record:
their rows and their last intact checkpoint there (trial.py); the old folder is removed once the
sweep ends with every chain done.

A full disk stops the sweep (orchestrator/disk.py): `DiskFull`, one line, exit code 3.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path

import ray
from ray import tune

from autophagy import grid, preflight, rows, sweepfile
from autophagy.config import ConfigError
from autophagy.orchestrator import assets, disk, lock, search, trackers, trial
from autophagy.orchestrator.progress import Progress
from autophagy.orchestrator.retention import Retention

# The Parquet rows are the record; Tune's own JSON/CSV/TensorBoard copies of every result would
# duplicate them (and the sample grids) in DIR/tune for nothing.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
# ...after which the ResultGrid warns that it finds no result.json: we read the Parquet instead.
logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)


def log(message: str) -> None:
    print(f"[autophagy] {message}", file=sys.stderr, flush=True)


def prepare_out_dir(cfg, out: Path, resume: bool) -> None:
    """Write DIR/config.yaml, or on --resume check that the sweep is the one already there.

    A directory whose sweep never started (config.yaml but no DIR/tune nor DIR/metrics: a run
    refused by a check after config.yaml was written, e.g. resources.cpus once Ray is up) is taken
    over, so the same command with the fix runs instead of asking for --resume."""
    saved = out / "config.yaml"
    started = (out / "tune").exists() or (out / "metrics").exists()
    if saved.exists() and started:
        if not resume:
            raise ConfigError(f"{out}: already holds a sweep; pass --resume to continue it, or choose another --out")
        old = sweepfile.load(saved).to_dict()
        new = cfg.to_dict()
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            raise ConfigError(f"{out}: --resume with a different config (fields {', '.join(changed)} differ "
                              f"from {saved}); resume with the same sweep file and --set values")
        return
    out.mkdir(parents=True, exist_ok=True)
    sweepfile.dump(cfg, saved)


def write_twins(cfg, out: Path, twins: dict[str, str]) -> None:
    """Each twin's rows: its source chain's, under the twin's chain_id and mitigation, with copy_of
    naming the source (analysis/compare.py pairs no twin with its source). Rewritten on a run or
    resume that changed the source's rows, left alone otherwise."""
    schema = rows.schema(cfg)
    mitigation = {c.chain_id: c.mitigation for c in grid.cells(cfg) if c.chain_id in twins}
    for twin, source in twins.items():
        record = rows.ChainRows(out / "metrics", twin, schema)
        copied = {r["generation"]: {**r, "chain_id": twin, "mitigation": mitigation[twin], "copy_of": source}
                  for r in rows.read_chain(out / "metrics", source)}
        if record.rows != copied:
            record.drop_after(-1)
            record.put(*copied.values())


def init_ray(address: str | None) -> None:
    """Without --address, a fresh local Ray every time: a bare ray.init() joins whatever cluster
    Ray's session directory records (/tmp/ray/ray_current_cluster), silently if it lives, and
    hangs retrying its GCS if it died. With --address, that cluster; a cluster with token
    authentication needs RAY_AUTH_MODE=token in the driver's environment for an explicit
    host:port (Ray enables it by itself only for "auto"; README, "On a Ray cluster")."""
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address)
    else:
        ray.init(address="local", include_dashboard=False)


def check_resources(cfg) -> None:
    total = ray.cluster_resources()
    if cfg.resources.gpus and not total.get("GPU"):
        raise ConfigError(f"resources.gpus: {cfg.resources.gpus:g} per chain, but the Ray cluster has no GPU "
                          "(set resources.gpus: 0 to run on CPUs)")
    if cfg.resources.cpus > total.get("CPU", 0):
        raise ConfigError(f"resources.cpus: {cfg.resources.cpus:g} per chain, but the Ray cluster has "
                          f"{total.get('CPU', 0):g} CPUs")


def _tuner(cfg, out: Path, listed: list[grid.Cell], files: dict[str, bytes], resume: bool,
           progress: bool) -> tune.Tuner:
    # Every trial finds its whole cell in its own config, a grid's as a search's ({"chain", "cell"}).
    # A grid hands Tune the chain ids and each cell as a function of its id (tune.sample_from):
    # Tune deep-copies the search space once per trial, so a grid_search over whole cells costs time
    # quadratic in their number (2,050 cells: 27 s to make the trials, 1.6 s this way, measured with
    # Tune's BasicVariantGenerator). The assets go to the object store once; a trial hands them to
    # its actor by reference, never copying them itself.
    cells = {c.chain_id: c.to_dict() for c in listed}
    refs = {"assets": ray.put(files)}
    trainable = tune.with_resources(tune.with_parameters(trial.run_chain, cfg=cfg, refs=refs, out=str(out)),
                                    trial.placement(cfg))
    experiment = out / "tune"
    if resume and experiment.exists():
        if restorable(experiment):
            log(f"resuming {experiment}")
            return tune.Tuner.restore(str(experiment), trainable=trainable, resume_unfinished=True, resume_errored=True)
        aside = set_aside(experiment)
        log(f"{experiment}: Tune's experiment state is missing or unreadable; moved to {aside.name}, "
            f"resuming each chain from DIR's rows and its last intact checkpoint")
    callback = Progress(out, cfg, cells, progress)
    if cfg.search.method == "threshold":  # the searcher hands each trial its whole (small) cell
        # num_samples bounds Tune by the searcher's own budget (-1 would print 2^63 - 1 as "Number of trials")
        space = {"param_space": None, "search_alg": search.ThresholdSearch(cfg, out),
                 "num_samples": max(cfg.search.max_chains, len(cells))}
    else:
        space = {"param_space": {"chain": tune.grid_search(list(cells)),
                                 "cell": tune.sample_from(lambda spec: cells[spec.config.chain])}}
    return tune.Tuner(
        trainable,
        param_space=space.pop("param_space"),
        tune_config=tune.TuneConfig(
            **space,
            max_concurrent_trials=cfg.resources.max_concurrent,
            trial_dirname_creator=lambda t: t.config["chain"],
            trial_name_creator=lambda t: t.config["chain"],
            reuse_actors=True,  # a trial's worker serves the next trial: no new process per chain
        ),
        run_config=tune.RunConfig(
            name="tune",
            storage_path=str(out),
            failure_config=tune.FailureConfig(max_failures=cfg.retries),
            # Tune keeps every checkpoint: with num_to_keep=K it deletes a trial's oldest one as soon
            # as the K+1th is registered, but snapshots its experiment state (what --resume reads)
            # only afterwards, so a driver killed in between cannot resume (Ray #30073). Retention
            # deletes them instead, once the saved state no longer names them (checkpoint_keep).
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
            callbacks=[disk.StopOnDiskFull(out), callback, Retention(out / "tune", cfg.checkpoint_keep), *trackers.callbacks(cfg, out, cells)],
            verbose=0,
        ),
    )


def restorable(experiment: Path) -> bool:
    """Whether `Tuner.restore` can read this experiment: its tuner.pkl and newest state file. Tune
    itself, on a state it cannot parse, logs "Failed to restore the run state" and restarts the
    experiment without the trials' configs (KeyError 'chain' in trial_name_creator). A state whose
    trials lack their cell (an autophagy before 2026-12-07 shipped a grid's cells beside them) is
    not restored either: the chains then resume from DIR's record, as from an unreadable state."""
    states = sorted(experiment.glob("experiment_state-*.json"))  # Tune restores from max(name)
    if not tune.Tuner.can_restore(str(experiment)) or not states:
        return False
    try:
        state = json.loads(states[-1].read_text())
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and {"trial_data", "runner_data"} <= set(state) and _trials_carry_cells(state)


def _trials_carry_cells(state: dict) -> bool:
    try:
        return all("cell" in json.loads(trial[0]).get("config", {}) for trial in state["trial_data"])
    except (TypeError, ValueError, IndexError, AttributeError):
        return False


def set_aside(experiment: Path) -> Path:
    """Rename an unreadable experiment folder to the next free DIR/tune-unreadable-<n> (a rename:
    no space needed on a full disk); its checkpoints are what the chains resume from."""
    n = 1 + max((int(p.name[len(trial.UNREADABLE):]) for p in experiment.parent.glob(trial.UNREADABLE + "*")
                 if p.name[len(trial.UNREADABLE):].isdigit()), default=0)
    aside = experiment.parent / f"{trial.UNREADABLE}{n}"
    experiment.rename(aside)
    return aside


def run(cfg, out: Path, *, address: str | None = None, resume: bool = False, progress: bool = True):
    """Run (or resume) the sweep into `out`; returns Tune's ResultGrid. Raises disk.DiskFull when
    the disk fills (in a chain or in the driver)."""
    out = Path(out).resolve()
    with lock.held(out, log):
        try:
            return _run(cfg, out, address, resume, progress)
        except Exception as err:
            if (stopped := disk.stop(err)) is not None:
                raise stopped from None
            if (full := disk.cause(err)) is None:
                raise
            raise disk.DiskFull(out, f"the driver: {disk.one_line(full)}") from None


def _run(cfg, out: Path, address: str | None, resume: bool, progress: bool):
    prepare_out_dir(cfg, out, resume)
    init_ray(address)
    check_resources(cfg)
    cells = search.round_zero(cfg)  # the grid itself, unless a control reference adds ratio 0 to a search
    first = " in round 0" if cfg.search.method != "grid" else ""
    # Twins (a mitigation that equals `none` at ratio 0) run once: their rows are copies.
    twins = grid.twins(cells) if cfg.search.method == "grid" else {}
    cells = [c for c in cells if c.chain_id not in twins]
    copies = f" (+ {len(twins)} twins, copied)" if twins else ""
    log(f"sweep {cfg.name!r}: {len(cells)} chains{copies}{first} x {cfg.generations + 1} generations, backend "
        f"{cfg.backend}, {cfg.resources.cpus:g} CPU + {cfg.resources.gpus:g} GPU per chain -> {out}")
    if (warning := preflight.disk_warning(cfg, out)) is not None:
        log(warning)
    files = assets.load_or_prepare(cfg, log)
    if cfg.search.method == "threshold":
        # Tune keeps one trial waiting for resources at a time under a search algorithm (its
        # _get_max_pending_trials): chains would then start one by one. A round's chains are
        # known at once, so let as many wait as a round of the listed grid has.
        os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(max(8, len(cells))))
        if cfg.search.target == "compare":
            log(f"search: compare, new seeds where the series differ most from {cfg.analysis.baseline} until "
                f"each comparison is decisive (at most {cfg.search.max_chains} chains; DIR/search.json)")
        else:
            log(f"search: threshold, refining each series' ratios to a 95% interval under "
                f"{cfg.search.target_width:g} (at most {cfg.search.max_chains} chains; DIR/search.json)")
    results = _tuner(cfg, out, cells, files, resume, progress).fit()
    write_twins(cfg, out, twins)
    failed = [r for r in results if r.error is not None]
    if not failed:  # every chain done: the checkpoints of an unreadable experiment are needed no more
        for aside in out.glob(trial.UNREADABLE + "*"):
            shutil.rmtree(aside, ignore_errors=True)
    for r in failed:
        log(f"chain {r.config['chain']} failed after {cfg.retries} retries: {type(r.error).__name__}: {r.error}")
    return results
