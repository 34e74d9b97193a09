"""Explore a finished (or running) sweep from Python, notebook style: one cell per `# %%`.

    python examples/explore_run.py runs/smoke      # any run directory; default runs/smoke

Only the public API (docs/api.md): autophagy.open and the Run it returns. Figures are matplotlib
Figures: in a notebook they show themselves; here they are saved beside the script's output.
"""

# %%
import sys
from pathlib import Path

import autophagy

run = autophagy.open(sys.argv[1] if len(sys.argv) > 1 else "runs/smoke")
print(run)
print(f"backend {run.config.backend}, {run.config.generations} generations, axes {run.axes}")

# %% Which chains are done, and where did each run?
chains = run.chains
print(chains["status"].value_counts().to_string())
print(chains[["chain_id", "status", "last_generation", "worker", "retries"]].head().to_string(index=False))

# %% The rows: one per chain and generation. The criterion's metric, median over seeds per ratio.
metric = run.criterion().metric
print(run.rows.groupby(["mitigation", "ratio", "generation"])[metric].median().unstack("generation").round(3))

# %% When does each chain collapse, and at which ratio does collapse by G become likely?
ttc = run.time_to_collapse()
print(ttc.groupby(["mitigation", "ratio"])["collapsed"].mean().unstack("mitigation"))
print(run.thresholds()[["mitigation", "threshold", "ci_low", "ci_high", "text"]].to_string(index=False))

# %% The threshold at a shorter horizon: collapse within half the generations.
print(run.thresholds(horizon=max(1, run.config.generations // 2))[["mitigation", "text"]].to_string(index=False))

# %% Does a mitigation hold collapse off? Each series against the baseline, paired by seed.
print(run.compare().to_string(index=False))

# %% Figures (a notebook shows them; a script saves them).
out = Path(sys.argv[2]) if len(sys.argv) > 2 else run.path / "explore"
out.mkdir(parents=True, exist_ok=True)
for name, fig in [("phase_diagram", run.phase_diagram()), ("survival", run.survival_plot()),
                  (f"metric_{metric}", run.metric_curves(metric))]:
    fig.savefig(out / f"{name}.png", dpi=80)
    print(f"{name}: {out / name}.png")
