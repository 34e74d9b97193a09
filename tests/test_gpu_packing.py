"""GPU packing with logical GPUs: chains asking for 0.25 GPU run four to one GPU, each actor on its
own placement-group bundle. Ray needs no real GPU for this (`ray.init(num_gpus=1)`); the gmm
backend never touches CUDA. Runs in a subprocess: the suite's shared Ray has no GPU. Every chain
is held before generation 1 (a hold fault) until all four are: the placement groups are read then,
not sampled while chains happen to overlap."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from test_faults import _plan

from autophagy import grid, sweepfile

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, os, sys, threading, time
    import ray
    from autophagy import rows, sweepfile
    from autophagy.orchestrator import sweep

    out = sys.argv[1]
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    cfg = sweepfile.load("sweeps/smoke.yaml", {"generations": 3, "grid.seed": [0, 1], "grid.ratio": [0.5, 1.0],
                                            "grid.mitigation": ["none"], "resources.cpus": 0.5,
                                            "resources.gpus": 0.25})
    most, bundles = 0, set()
    plan = os.environ["AUTOPHAGY_FAULTS"]

    def watch():
        global most
        deadline = time.monotonic() + 240  # a generous bound: four chains not held at once fail the test
        while not all(os.path.exists(f"{plan}.held-{i}") for i in range(4)) and time.monotonic() < deadline:
            time.sleep(0.05)
        live = [g for g in ray.util.placement_group_table().values()
                if g["state"] == "CREATED" and any(b.get("GPU") for b in g["bundles"].values())]
        most = len(live)
        for g in live:
            bundles.update(json.dumps(b, sort_keys=True) for b in g["bundles"].values())
        for i in range(4):
            open(f"{plan}.release-{i}", "w").close()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    results = sweep.run(cfg, out, progress=False)
    watcher.join()
    df = rows.read_rows(out)
    print(json.dumps({"errors": sum(r.error is not None for r in results), "most_at_once": most,
                      "bundles": sorted(bundles), "workers": sorted(set(df.worker)), "rows": len(df)}))
""")


def test_four_chains_share_one_logical_gpu(_faults, tmp_path):
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", {"grid.seed": [0, 1], "grid.ratio": [0.5, 1.0],
                                                          "grid.mitigation": ["none"]})
    _plan(_faults, [{"kind": "hold", "chain": c.chain_id, "generation": 1} for c in grid.cells(cfg)])
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "run")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["errors"] == 0 and got["rows"] == 4 * 4
    # Four chains' placement groups held the one GPU at the same time, each with a 0.25 bundle.
    assert got["most_at_once"] == 4
    # (The trial's own head bundle is empty, so Ray lists only the chain's.)
    assert got["bundles"] == [json.dumps({"CPU": 0.5, "GPU": 0.25}, sort_keys=True)]
    # Every actor saw GPU 0 and its quarter of it.
    assert len(got["workers"]) == 1 and got["workers"][0].endswith("GPU 0 x0.25"), got["workers"]
