"""benchmarks/shi_mechanism.py turns rows into docs/results_shi.md: findings read off the numbers."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "shi_mechanism.py"


def _module():
    spec = importlib.util.spec_from_file_location("shi_mechanism", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows():
    """Replace: entropy and score fall, faster at N = 32; greedy keeps both higher."""
    rows = []
    for n, speed in ((32, 0.3), (128, 0.1)):
        for mitigation, brake in (("none", 1.0), ("greedy", 0.5)):
            for seed in (0, 1):
                for g in range(4):
                    score = 8 * np.exp(-speed * brake * g) + 0.01 * seed
                    rows.append({"chain_id": f"{mitigation}-{n}-{seed}", "images_per_generation": n,
                                 "mitigation": mitigation, "seed": seed, "generation": g, "status": "ok",
                                 "entropy_train_pixels": 10 * np.log(score), "generalization_score": score,
                                 "nearest_train_l2": score / 5, "memorization_share": 0.0,
                                 "fid": 50 + 40 * g * brake - seed})
    return pd.DataFrame(rows)


def test_findings_follow_the_rows(tmp_path):
    shi = _module()
    rows = _rows()
    findings = shi.page(rows, tmp_path).split("## By generation")[0]
    assert findings.count("the generalization score falls") == 2 and "(8 to 3.26, every seed: True): **holds**" in findings
    assert findings.count("samples become copies (memorization share 0.00 to 0.00): **does not hold**") == 2
    assert "59% at N = 32 and 26% at N = 128: **holds**" in findings
    assert findings.count("selection keeps the generalization score up **holds**; and lowers FID **holds**") == 2
    assert findings.count("log generalization score, over every chain's generations 1..3: 1.00") == 2
    # greedy made worse than replace: the page says so
    worse = rows.copy()
    greedy = worse.mitigation == "greedy"
    worse.loc[greedy, "generalization_score"] /= 10
    worse.loc[greedy, "fid"] += 500
    text = shi.page(worse, tmp_path)
    assert text.count("selection keeps the generalization score up **does not hold**; and lowers FID **does not hold**") == 2
    assert "### N = 32, `greedy`" in text and "| 3 |" in text
