"""GPU packing with logical GPUs: chains asking for 0.25 GPU run four to one GPU, each actor on its
own placement-group bundle. Ray needs no real GPU for this (`ray.init(num_gpus=1)`); the gmm
backend never touches CUDA. Runs in a subprocess: the suite's shared Ray has no GPU."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    import ray
    from autophagy import rows, sweepfile
    from autophagy.orchestrator import sweep

    out = sys.argv[1]
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    cfg = sweepfile.load("sweeps/smoke.yaml", {"generations": 3, "grid.seed": [0, 1], "grid.ratio": [0.5, 1.0],
                                            "grid.mitigation": ["none"], "resources.cpus": 0.5,
                                            "resources.gpus": 0.25})
    most, bundles, done = 0, set(), False

    def watch():
        global most
        while not done:
            live = [g for g in ray.util.placement_group_table().values()
                    if g["state"] == "CREATED" and any(b.get("GPU") for b in g["bundles"].values())]
            most = max(most, len(live))
            for g in live:
                bundles.update(json.dumps(b, sort_keys=True) for b in g["bundles"].values())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    results = sweep.run(cfg, out, progress=False)
    done = True
    watcher.join()
    df = rows.read_rows(out)
    print(json.dumps({"errors": sum(r.error is not None for r in results), "most_at_once": most,
                      "bundles": sorted(bundles), "workers": sorted(set(df.worker)), "rows": len(df)}))
""")


def test_four_chains_share_one_logical_gpu(tmp_path):
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
