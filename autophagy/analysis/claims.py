"""The papers' findings as data: what the results page checks, and how.

A claim names a mitigation and the checks that would show it, each against `none` on the same
seeds: `time` (collapse comes later: the comparisons' hazard model), `criterion` (the sweep's own
collapse metric is better at the last generation), a metric column (better at the last
generation, by its direction in metrics/registry.py), or `recovered` (healing undoes part of the damage).
Adding a claim is one entry here; the page (results_page.py) tests every check the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

# Shi et al.'s selection claim in the rows' terms: the training set's entropy up, copying down.
SELECTION = ("entropy_train_pixels", "entropy_train_features", "entropy_train", "memorization_share",
             "generalization_score", "nearest_train_l2")


@dataclass(frozen=True)
class Claim:
    text: str
    source: str
    mitigation: str
    checks: tuple[str, ...]  # "time", "criterion", "recovered", or metric columns (those the rows lack are skipped)


CLAIMS = (
    Claim("Accumulating outlasts replacing", "Gerstgrasser et al. 2024; Shi et al. 2025", "accumulate",
          ("time", "criterion")),
    Claim("Fresh real data each generation outlasts a fixed real set (at ratio 1 there is no real share to "
          "refresh)", "Alemohammad et al. 2024", "fresh_data", ("time", "criterion")),
    *(Claim(f"`{name}` keeps the training set's entropy up and memorization down, and so delays collapse",
            "Shi et al. 2025", name, (*SELECTION, "time", "criterion"))
      for name in ("greedy", "threshold_decay", "accumulate+greedy")),
    Claim("ReDiFine delays collapse", "Yoon et al. 2024", "redifine", ("time", "criterion")),
    Claim("Healing recovers part of the damage", "Bohacek & Farid 2023", "healing", ("recovered",)),
)
