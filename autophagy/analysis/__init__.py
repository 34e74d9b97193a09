"""Analysis of a sweep's rows: when does each chain collapse, and at which synthetic ratio?

    axes.py              which columns are axes and metrics; cells and series
    collapse.py          a criterion applied to one chain's metric series
    criterion.py         criteria written as text (`fid>=2x:persist=2`)
    time_to_collapse.py  one row per chain: collapse time or right-censoring
    survival.py          Kaplan–Meier product-limit estimator
    intervals.py         intervals valid at the number of seeds (order statistics, sign-flip)
    summary.py           per cell: median time to collapse, interval, KM median
    threshold.py         per series: the collapse threshold, the ratio where collapse by G becomes
                         likely (model headline from margin.py or firth.py, exact cross-check)
    margin.py            the criterion's continuous margin, and where its median crosses 0
    firth.py             Firth-penalized logistic fit of collapsed-by-t, profile interval
    phase_boundary.py    that threshold at every horizon t = 1..G
    refine.py            where a search's next chains go (search.target: threshold | compare)
    compare.py           each series against a baseline: hazard model, metric, seed-level tests
    claims.py            the papers' findings as data; results_page.py tests them on a run
    results_page.py      `autophagy results DIR --out PAGE.md`: the claims checked on a run
    plots/               the figures (survival_curves.py draws survival.py's estimates)
    report.py            build_report(DIR): CSVs, figures and a self-contained report.html
    report_html.py       the HTML page pieces (base64 images, tables)
"""

from autophagy.analysis.collapse import ChainOutcome, chain_outcome
from autophagy.analysis.criterion import CriterionError, describe_criterion, format_criterion, parse_criterion
from autophagy.analysis.survival import kaplan_meier, median_survival
from autophagy.analysis.threshold import collapse_thresholds
from autophagy.analysis.time_to_collapse import time_to_collapse

__all__ = ["ChainOutcome", "CriterionError", "chain_outcome", "collapse_thresholds", "describe_criterion",
           "format_criterion", "kaplan_meier", "median_survival", "parse_criterion", "time_to_collapse"]
