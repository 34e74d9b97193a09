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


def _rows(seeds=range(10)):
    """Replace: entropy and score fall, faster at N = 32; greedy keeps both higher (a little noise
    per seed, so that the per-seed differences are not all equal)."""
    rows = []
    for n, speed in ((32, 0.3), (128, 0.1)):
        for mitigation, brake in (("none", 1.0), ("greedy", 0.5)):
            for seed in seeds:
                for g in range(4):
                    score = 8 * np.exp(-speed * brake * g) * (1 + 0.01 * np.sin(seed + g + n))
                    rows.append({"chain_id": f"{mitigation}-{n}-{seed}", "images_per_generation": n,
                                 "mitigation": mitigation, "seed": seed, "generation": g, "status": "ok",
                                 "entropy_train_pixels": 10 * np.log(score), "generalization_score": score,
                                 "nearest_train_l2": score / 5, "memorization_share": 0.0,
                                 "fid": 50 + 40 * g * brake - seed})
    return pd.DataFrame(rows)


def test_findings_follow_the_rows(tmp_path):
    shi = _module()
    rows = _rows()  # 10 seeds: 2 / 2^10 x 13 findings (Holm) < 0.05, the fewest that can tell
    findings = shi.page(rows, tmp_path).split("## By generation")[0]
    assert findings.count("the generalization score falls (generation 0, real, ") == 2
    assert findings.count(": **holds** (") == 2 * 2 + 1 + 2 * 3  # falls x2 per N, faster at small N, greedy x3 per N
    assert findings.count("samples become copies (memorization share 0.00 to 0.00): **cannot yet be told**") == 2
    assert "p = 0.00195, Holm 0.0254, 10 seeds" in findings  # 2 / 2^10: every seed the same way
    assert findings.count("log generalization score, over every chain's generations 1..3: 1.00") == 2
    # greedy made worse than replace: the page says so
    worse = rows.copy()
    greedy = worse.mitigation == "greedy"
    worse.loc[greedy, "generalization_score"] /= 10
    worse.loc[greedy, "fid"] += 500
    text = shi.page(worse, tmp_path)
    assert text.count("selection keeps the generalization score up: **the opposite**") == 2
    assert text.count("selection lowers FID: **the opposite**") == 2
    assert "### N = 32, `greedy`" in text and "| 3 |" in text


def test_two_seeds_tell_nothing_and_say_how_many_would(tmp_path):
    findings = _module().page(_rows(seeds=(0, 1)), tmp_path).split("## By generation")[0]
    assert "**holds**" not in findings and "**the opposite**" not in findings
    assert "p >= 0.5 at best, about" in findings and "seeds would tell" in findings
