"""A full disk (ENOSPC, EDQUOT) stops the sweep: no retry would succeed, and none is burned.

A chain that meets one anywhere in its generation (its actor writing samples, its trial writing
rows, sample grids or the checkpoint Tune copies to DIR/tune) does not raise (Tune would count a
failure and retry it on the same full disk): it reports `{"disk_full": message}` to the driver,
whose `StopOnDiskFull` callback raises `DiskFull`, which ends Tune's loop at once. Tune then writes
no final snapshot, so its experiment state names each unfinished chain as running, from its last
checkpoint, and the generation that hit the error is recorded nowhere: `--resume` (after space is
freed) runs it again. `autophagy run` prints DiskFull's one line and exits with code 3.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ray import tune

CODES = (errno.ENOSPC, errno.EDQUOT)
EXIT_CODE = 3
# pyarrow's filesystem errors (Tune's copy of a checkpoint) carry the OS message but no errno.
TEXTS = tuple(os.strerror(code) for code in CODES)


def _chain(err: BaseException | None):
    """`err`, then what it wraps: a Ray task error's cause, the exception it was raised from or
    while handling (Tune re-raises a callback's exception as a TuneError holding only its text)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = getattr(err, "cause", None) or err.__cause__ or err.__context__


def cause(err: BaseException | None) -> OSError | None:
    """The innermost disk-full OSError behind `err`, or None (a Ray task error raised for an
    OSError is an OSError too, whose text is the whole remote traceback)."""
    found = [e for e in _chain(err) if isinstance(e, OSError) and (e.errno in CODES or any(t in str(e) for t in TEXTS))]
    return found[-1] if found else None


def one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}"[:500]


def stop(err: BaseException | None) -> "DiskFull | None":
    """The `DiskFull` a driver callback raised, behind Tune's wrapping of it, or None."""
    return next((e for e in _chain(err) if isinstance(e, DiskFull)), None)


def free_text(path: Path) -> str:
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    free = shutil.disk_usage(path).free
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if free < 1000 or unit == "TB":
            return f"{free:.3g} {unit}" if unit != "B" else f"{free} B"
        free /= 1000
    return ""


class DiskFull(Exception):
    """The sweep stopped on a full disk; the message is the one line `autophagy run` prints."""

    def __init__(self, out: Path, detail: str):
        super().__init__(f"{out}: disk full ({detail}); {free_text(out)} free there now. Free space on that "
                         f"filesystem, then run the same command with --resume: no finished row is lost")


class StopOnDiskFull(tune.Callback):
    """Driver side: the first `disk_full` result ends the sweep."""

    def __init__(self, out: Path):
        self.out = Path(out)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get("disk_full"):
            raise DiskFull(self.out, f"chain {trial.config.get('chain', trial.trial_id)}: {result['disk_full']}")
