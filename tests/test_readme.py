"""The README's sweep-file example is a valid sweep: documentation that drifts from the code fails here."""

import re
from pathlib import Path

from autophagy import grid, sweepfile

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_sweep_example_validates(tmp_path):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    example = next(b for b in blocks if b.startswith("name: demo"))
    (tmp_path / "example.yaml").write_text(example)
    cfg = sweepfile.load(tmp_path / "example.yaml")
    demo = sweepfile.load(ROOT / "sweeps" / "demo.yaml")
    assert [c.chain_id for c in grid.cells(cfg)] == [c.chain_id for c in grid.cells(demo)]
    assert (cfg.sampling, cfg.finetune, cfg.collapse, cfg.search) == (demo.sampling, demo.finetune, demo.collapse,
                                                                    demo.search)
