"""A lost node: a head and a second raylet on this machine, a sweep whose chains run on both, the
second SIGKILLed mid-sweep. Its chains are retried on the head from their last checkpoint; the
rows are complete, one per chain and generation, and equal to an uninterrupted run's."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import raynodes
from test_faults import _plan, _uninterrupted, held, release, wait_until

from autophagy import grid, rows, sweepfile
from autophagy.orchestrator import trial

ROOT = Path(__file__).resolve().parents[1]
# 4 chains of 1 CPU on 2 nodes of 2 CPUs: 2 on each node. Every chain is held before generation
# HELD (a hold fault) until all four are: the second node is killed then, with rows of its chains
# written and none finished. Every generation checkpointed, so a retry goes on from the generation
# before the kill.
HELD = 3
SETS = ["generations=100", "resources.cpus=1", "grid.seed=[0, 1]", "grid.mitigation=[none]", "grid.ratio=[0.5, 1.0]",
        "checkpoint_interval_s=0", "retries=1"]
# Where the rows of two runs legitimately differ: which node ran them, when, and how long it took.
HOST_COLUMNS = ["worker", "finished_at"]


def _node(worker: str) -> str:
    return worker.split(" node ")[1].split()[0]  # "IP node NODE_ID CPU" (actors/chain_actor.py)


def test_second_node_sigkilled_mid_sweep_its_chains_finish_on_the_head(_faults, tmp_path):
    out, scratch = tmp_path / "run", tmp_path / "scratch"
    scratch.mkdir()
    # TMPDIR: the trials' checkpoint scratch directories land where the test can count them. A
    # lost node is noticed after 4 missed health checks of 0.5 s, not Ray's default 5 of 3 s.
    env = {"TMPDIR": str(scratch), "RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
           "AUTOPHAGY_FAULTS": str(_faults)}
    cells = grid.cells(sweepfile.load(ROOT / "sweeps" / "smoke.yaml", sweepfile.parse_set(SETS)))
    _plan(_faults, [{"kind": "hold", "chain": c.chain_id, "generation": HELD} for c in cells])
    head = raynodes.Node(cpus=2, env=env)
    second = None
    try:
        second = raynodes.Node(cpus=2, head_address=head.address, env=env)
        raynodes.wait_for_cpus(head.address, 4)
        lost = next(node for node, is_head in raynodes.node_ids(head.address).items() if not is_head)
        cmd = [sys.executable, "-m", "autophagy", "run", str(ROOT / "sweeps" / "smoke.yaml"), "--out", str(out),
               "--address", head.address, *[a for s in SETS for a in ("--set", s)]]
        driver = subprocess.Popen(cmd, env=raynodes.ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)
        try:
            # Kill once every chain is held: each has its rows up to generation HELD - 2 at least.
            for i in range(len(cells)):
                wait_until(held(_faults, i).exists, f"chain {cells[i].chain_id} held", driver)
            second.stop(signal.SIGKILL)
            for i in range(len(cells)):  # the head's chains go on; the lost ones' retries are not held
                release(_faults, i)
            _, err = driver.communicate(timeout=300)
        finally:
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait()
        assert driver.returncode == 0, err.decode()[-3000:]
    finally:
        for node in (second, head):
            if node is not None:
                node.stop(signal.SIGKILL)

    cfg = sweepfile.load(out / "config.yaml")
    got = rows.read_rows(out)
    nodes = got.assign(node=got.worker.map(_node)).groupby("chain_id").node
    first, last = nodes.first(), nodes.last()
    assert (first == lost).sum() == 2 and (first != lost).sum() == 2, f"chains did not start 2 per node: {first}"
    assert (last != lost).all(), f"a chain finished on the lost node, before the kill: {last}"
    # complete and unique, read as the README says, and no stray file beside the chains' own
    table = pd.read_parquet(out / "metrics")
    assert len(table) == len(grid.cells(cfg)) * (cfg.generations + 1)
    assert not table.duplicated(rows.KEY).any() and (table.status == "ok").all()
    assert sorted(p.name for p in (out / "metrics").iterdir()) == sorted(f"{c.chain_id}.parquet" for c in grid.cells(cfg))
    # equal to an uninterrupted run's, in every column but where and when each row was made
    want = _uninterrupted(cfg)
    same = [c for c in want.columns if c not in HOST_COLUMNS and not c.startswith("seconds_")]
    assert set(got.columns) - set(same) == set(HOST_COLUMNS) | {c for c in got.columns if c.startswith("seconds_")}
    none = {"error": ""}  # null: None in the reference, NaN read back
    pd.testing.assert_frame_equal(got[same].fillna(none), want[same].fillna(none), check_dtype=False)
    # the lost node's trials left their checkpoint scratch behind; the retries removed it
    assert not list(scratch.glob(trial.SCRATCH + "*"))
