"""Every metric column a backend can write, one line each: its name, its family and which way is worse.

A backend's `metric_names` is built from these families (`names`), the collapse criteria refuse a
direction that contradicts the metric's (config.CollapseConfig), and the report's curves and the
results page say which way is better from here. Adding a metric: the function that computes it
(autophagy/metrics/ or the backend's own file), the backend's `evaluate` returning it, and one
line below; the backend lists it by its family. The chain refuses a generation whose `evaluate`
returns a name its backend does not list, or lacks one it does (chain.py), and `autophagy
validate` refuses a listed name that is not here.

Columns made per something (`variance_c0` per mixture component, `pairwise_l2_cats` per eval
prompt, `offtarget_fid` per held-out class set) take the entry of their stem: the longest
registered name they extend with `_`, after an `offtarget_` prefix is dropped.

Worse: `up` (larger is worse: FID, KL, copying), `down` (smaller is worse: recall, entropy,
diversity, class agreement), or None where neither is (a spread whose rise and fall both mean
damage); a collapse criterion on such a metric may take either direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

Worse = Optional[Literal["up", "down"]]


@dataclass(frozen=True)
class Metric:
    name: str
    family: str
    worse: Worse
    about: str


def _family(family: str, worse: Worse, *entries: tuple[str, str]) -> list[Metric]:
    return [Metric(name, family, worse, about) for name, about in entries]


# In column order: a backend's columns are its families' names in this order.
METRICS: dict[str, Metric] = {m.name: m for m in [
    *_family("fidelity", "up",
             ("fid", "Fréchet distance to the held-out real set's features"),
             ("kid", "kernel inception distance (unbiased MMD) to the held-out real set")),
    *_family("fidelity", "down",
             ("precision", "share of samples inside the real features' manifold (Kynkäänniemi et al.)"),
             ("recall", "share of real images inside the samples' manifold")),
    *_family("classes", "down",
             ("class_agreement", "share of samples the classifier assigns their conditioning label"),
             ("class_agreement_min", "the worst label's class agreement"),
             ("class_coverage", "share of labels at least half of whose samples are recognised"),
             ("class_confidence", "mean classifier probability of the conditioning label")),
    *_family("diversity", "down",
             ("pairwise_l2", "mean within-class pairwise L2 distance of the samples (Pu et al.)")),
    *_family("diversity", None, ("pairwise_l2_std", "spread of the within-class pairwise distances")),
    *_family("diversity", "down",
             ("pairwise_l2_q10", "10th percentile of the within-class pairwise distances"),
             ("pairwise_l2_q50", "median within-class pairwise distance"),
             ("pairwise_l2_q90", "90th percentile of the within-class pairwise distances"),
             ("sample_std", "per-pixel standard deviation across samples")),
    *_family("class_spread", "down",
             ("class_std", "within-label sample_std, mean over labels"),
             ("class_std_min", "within-label sample_std, the narrowest label's")),
    *_family("copying", "down",
             ("nearest_train_l2", "mean pixel distance of a sample to its nearest training image"),
             ("generalization_score", "mean feature distance of a sample to its nearest training image")),
    *_family("copying", "up", ("memorization_share", "share of samples that copy a training image")),
    *_family("entropy", "down",
             ("entropy_train_pixels", "Kozachenko-Leonenko entropy of the training set, pixels"),
             ("entropy_samples_pixels", "Kozachenko-Leonenko entropy of the samples, pixels"),
             ("entropy_train_features", "Kozachenko-Leonenko entropy of the training set, features"),
             ("entropy_samples_features", "Kozachenko-Leonenko entropy of the samples, features")),
    *_family("mixture", "up", ("kl", "KL(true || fitted), on held-out real points")),
    *_family("mixture", "down",
             ("variance", "the fitted mixture's mean component variance (per component: variance_c<k>)"),
             ("loglik", "mean log-likelihood of held-out real points under the fitted model"),
             ("sample_variance", "variance of the samples"),
             ("entropy_samples", "Kozachenko-Leonenko entropy of the samples"),
             ("entropy_train", "Kozachenko-Leonenko entropy of the training set")),
    *_family("text_alignment", "down",
             ("clip_score", "CLIP similarity of each image to its prompt (per eval prompt set: clip_score_<set>)")),
]}

OFFTARGET = "offtarget_"


def lookup(column: str) -> Metric | None:
    """The entry of a metric column (its stem's, for a per-component, per-prompt or off-target
    column); None for a column that is no metric here."""
    name = column[len(OFFTARGET):] if column.startswith(OFFTARGET) else column
    while name:
        if name in METRICS:
            return METRICS[name]
        name = name.rpartition("_")[0]
    return None


def worse(column: str) -> Worse:
    """Which way is worse for this column ('up', 'down'), or None (neither, or not registered)."""
    entry = lookup(column)
    return entry.worse if entry is not None else None


def better_sign(column: str) -> int:
    """+1 where higher is better, -1 where lower is, 0 where the registry says neither."""
    return {"up": -1, "down": 1, None: 0}[worse(column)]


def names(*parts: str, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The metric names of these parts, in turn: a family's names in registry order, or one metric
    by its name (a backend that takes one metric of a family: gmm's generalization_score)."""
    families = {m.family for m in METRICS.values()}
    out = []
    for part in parts:
        if part in families:
            out += [m.name for m in METRICS.values() if m.family == part and m.name not in without]
        elif part in METRICS:
            out.append(part)
        else:
            raise KeyError(f"{part!r} is neither a metric nor a metric family of autophagy/metrics/registry.py "
                           f"(families: {', '.join(sorted(families))})")
    return tuple(out)


def unregistered(columns) -> list[str]:
    """The columns that have no entry, in order."""
    return [c for c in columns if lookup(c) is None]
