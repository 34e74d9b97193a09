"""The sweep's status line: its text (a pure function of the counts) and how often a log gets it."""

from pathlib import Path
from types import SimpleNamespace

from autophagy import sweepfile
from autophagy.orchestrator import progress
from autophagy.orchestrator.progress import Progress, duration, status_line

SMOKE = Path(__file__).resolve().parents[1] / "sweeps" / "smoke.yaml"


def test_duration():
    assert [duration(s) for s in (0, 44.6, 60, 185, 3600, 7385, 86400 * 4 + 3600 * 7 + 59)] == \
        ["0s", "45s", "1m00s", "3m05s", "1h00m", "2h03m", "4d07h"]


def test_status_line_with_elapsed_and_eta():
    # 280 generations left at 250 s per 120 of them: 583 s
    assert status_line(120, 400, 3, 1, 2, 10, 250.0, 250 / 120) == (
        "generations 120/400 (30%)  chains 3/10 finished, 1 failed, 2 retrying  elapsed 4m10s  ETA 9m43s")
    assert status_line(300, 400, 7, 0, 0, 10, 100.0, 5.0).endswith("elapsed 1m40s  ETA 8m20s")
    assert status_line(0, 400, 0, 0, 0, 10, 3.0, None).endswith("elapsed 3s  ETA ?")
    assert status_line(12, 40, 0, 0, 0, 4, 10.0, 1.0, budget=10).startswith(
        "generations 12/40 so far (30%)  chains 0/4 so far finished")
    # a search's ETA also says what the whole budget would take: 10 chains x 10 generations, 12 done
    assert status_line(12, 40, 0, 0, 0, 4, 10.0, 1.0, budget=10).endswith("ETA 28s (at most 1m28s)")
    assert status_line(12, 40, 0, 0, 0, 4, 10.0, 1.0, budget=4).endswith("ETA 28s")


def test_a_log_gets_a_line_every_5_percent_not_every_generation(capsys, monkeypatch):
    monkeypatch.setattr(progress, "EVERY_S", 3600.0)  # only the 5 % steps, not the clock
    cfg = sweepfile.load(SMOKE, {"generations": 40, "grid.ratio": [0.0, 0.5, 1.0], "grid.seed": [0],
                              "grid.mitigation": ["none"]})
    cells = {f"c{i}": {"chain_id": f"c{i}"} for i in range(3)}
    callback = Progress(Path("unused"), cfg, cells)
    callback.setup()
    for chain in cells:
        trial = SimpleNamespace(config={"chain": chain}, last_result={})
        callback.on_trial_start(0, [], trial)
        for g in range(41):
            callback.on_trial_result(0, [], trial, {"generations": [{"generation": g, "status": "ok"}]})
        callback.on_trial_complete(0, [], trial)
    callback.on_experiment_end([])
    lines = [line for line in capsys.readouterr().err.splitlines() if "generations " in line]
    # 123 generations: a line every 7 (7/123 >= 5 % > 6/123), and the last one
    assert len(lines) == 123 // 7 + 1
    assert lines[-1].startswith("[autophagy] generations 123/123 (100%)  chains 3/3 finished, 0 failed, 0 retrying")


class _Terminal:
    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_a_terminal_gets_one_line_redrawn_in_place_and_the_eta_skips_the_start(monkeypatch):
    clock = iter([0.0, 0.0, 40.0, 40.0, 41.0, 42.0])  # init, setup, first result, 3 statuses
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    terminal = _Terminal()
    monkeypatch.setattr(progress.sys, "stderr", terminal)
    cfg = sweepfile.load(SMOKE, {"generations": 3, "grid.ratio": [0.0], "grid.seed": [0], "grid.mitigation": ["none"]})
    callback = Progress(Path("unused"), cfg, {"c0": {"chain_id": "c0"}})
    callback.setup()  # t = 0; the first generation arrives at t = 40, then one a second
    trial = SimpleNamespace(config={"chain": "c0"}, last_result={})
    for g in range(3):
        callback.on_trial_result(0, [], trial, {"generations": [{"generation": g, "status": "ok"}]})
    assert "\n" not in terminal.text
    shown = terminal.text.split("\r\x1b[K")
    assert shown[0] == "" and len(shown) == 4  # every status drawn over the last
    assert shown[1].endswith("elapsed 40s  ETA ?")
    # 1 generation left at 1 s each (from t = 40 on), not at 42 s / 3
    assert shown[-1] == "[autophagy] generations 3/4 (75%)  chains 0/1 finished, 0 failed, 0 retrying  elapsed 42s  ETA 1s"
