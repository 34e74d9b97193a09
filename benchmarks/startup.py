"""Where the seconds before a sweep's first generation go, on the smoke sweep (gmm).

    .venv/bin/python benchmarks/startup.py [--runs 2] [--set KEY=VALUE ...]

Runs `sweep.run` in this process and stamps each phase: imports (of the driver's modules, after
the interpreter's own start, timed apart as `python -c pass`), Ray start (`ray.init`), assets,
Tune's set-up until the first trial starts (its placement group and trainable process), and the
first trial's start until its first reported generation (checkpoint_interval_s=0: generation 0) (the chain actor's start, its chain's load,
generation 0). Each phase gives wall seconds and CPU seconds of this process and every process
under it (Ray's raylet, GCS and workers: psutil), so that a loaded machine's waiting shows as wall
without CPU. The sweep then runs to its end; only the start-up is printed.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import psutil  # noqa: E402

IMPORTED_BASICS = time.perf_counter()

from autophagy import sweepfile  # noqa: E402
from autophagy.orchestrator import assets, sweep  # noqa: E402
from ray import tune  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    """CPU seconds of this process and every live process under it."""
    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class Stamps:
    def __init__(self):
        self.marks = [("start", time.perf_counter(), cpu_seconds())]

    def mark(self, name: str) -> None:
        if name not in {n for n, _, _ in self.marks}:
            self.marks.append((name, time.perf_counter(), cpu_seconds()))

    def rows(self):
        for (_, t0, c0), (name, t1, c1) in zip(self.marks, self.marks[1:]):
            yield name, t1 - t0, c1 - c0


class FirstResult(tune.Callback):
    def __init__(self, stamps: Stamps):
        self.stamps = stamps

    def on_trial_start(self, iteration, trials, trial, **info):
        self.stamps.mark("Tune set-up, placement group, trainable start")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.stamps.mark("chain actor start, chain load, generation 0")


def once(sets: dict) -> list[tuple[str, float, float]]:
    import ray

    stamps = Stamps()
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", sets)
    init_ray, load, tuner = sweep.init_ray, assets.load_or_prepare, sweep._tuner

    def timed_init(address):
        init_ray(address)
        stamps.mark("Ray start (ray.init)")

    def timed_load(cfg, log):
        files = load(cfg, log)
        stamps.mark("assets")
        return files

    def timed_tuner(*args, **kw):
        t = tuner(*args, **kw)
        t._local_tuner._run_config.callbacks.append(FirstResult(stamps))
        return t

    sweep.init_ray, sweep.assets.load_or_prepare, sweep._tuner = timed_init, timed_load, timed_tuner
    try:
        with tempfile.TemporaryDirectory() as out:
            sweep.run(cfg, Path(out) / "run", progress=False)
    finally:
        sweep.init_ray, sweep.assets.load_or_prepare, sweep._tuner = init_ray, load, tuner
        ray.shutdown()
    return list(stamps.rows())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], dest="sets")
    args = parser.parse_args()
    # Every generation checkpointed, so the first report is generation 0's (not the first
    # checkpoint_interval_s's worth of generations).
    args.sets = ["checkpoint_interval_s=0", *args.sets]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - t
    print(f"interpreter start (python -c pass): {bare:.2f} s wall")
    print(f"imports (psutil, argparse): {IMPORTED_BASICS - START:.2f} s; "
          f"autophagy.orchestrator.sweep + ray.tune: {time.perf_counter() - IMPORTED_BASICS - bare:.2f} s wall")
    for run in range(args.runs):
        phases = once(sweepfile.parse_set(args.sets))
        print(f"run {run + 1}:")
        for name, wall, cpu in phases:
            print(f"  {name:<48} {wall:6.2f} s wall {cpu:6.2f} s CPU")
        print(f"  {'total to the first generation':<48} {sum(w for _, w, _ in phases):6.2f} s wall "
              f"{sum(c for _, _, c in phases):6.2f} s CPU")


if __name__ == "__main__":
    main()
