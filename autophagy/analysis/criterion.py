"""A collapse criterion written as text (`autophagy report DIR --criterion TEXT`), and back.

Syntax, strict and whitespace-free apart from the ends:

    METRIC>=NUMBER[x][:persist=K][:diverged=collapse|censor][:reference=generation0|control]
    METRIC<=NUMBER[x][:persist=K][:diverged=collapse|censor][:reference=generation0|control]

  `>=` means larger is worse (direction up), `<=` smaller is worse (direction down).
  A trailing `x` makes the threshold relative to the chain's generation-0 value, else absolute.
  `persist=K` (default 1): the criterion must hold K consecutive generations.
  `diverged=` (default collapse): whether a diverged generation counts as collapse or censors.
  `reference=` (default generation0; relative only): what the x multiplies, the chain's own
  generation 0 or the control chain's value (ratio 0, same seed and series) at each generation.

Examples: `fid>=2x` (FID doubled), `recall<=0.5x:persist=2` (recall halved for 2 generations),
`recall<=0.3` (recall at or below 0.3), `kl>=1:diverged=censor`, `fid>=1.5x:reference=control`.
"""

from __future__ import annotations

import re

from autophagy.config import CollapseConfig, ConfigError, parse


class CriterionError(ConfigError):
    """Malformed criterion text or an unknown metric; a ValueError, so the CLI reports it."""


_HEAD = re.compile(r"(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)(?P<op>>=|<=)(?P<number>[0-9.eE+-]+?)(?P<x>x?)")
_OPTIONS = ("persist", "diverged", "reference")


def parse_criterion(text: str, metrics: list[str] | None = None) -> CollapseConfig:
    """Text -> CollapseConfig. With `metrics`, the metric must be one of them."""
    if not isinstance(text, str) or not text.strip():
        raise CriterionError("collapse criterion: empty; write e.g. 'fid>=2x' or 'recall<=0.3:persist=2'")
    head, *options = text.strip().split(":")
    m = _HEAD.fullmatch(head)
    if m is None:
        raise CriterionError(
            f"collapse criterion {text!r}: {head!r} is not METRIC>=NUMBER[x] or METRIC<=NUMBER[x] "
            "(only >= and <= compare; a trailing x means times generation 0)")
    try:
        threshold = float(m["number"])
    except ValueError:
        raise CriterionError(f"collapse criterion {text!r}: {m['number']!r} is not a number") from None
    fields = dict(metric=m["metric"], mode="relative" if m["x"] else "absolute", threshold=threshold,
                  direction="up" if m["op"] == ">=" else "down")
    seen = set()
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in _OPTIONS:
            raise CriterionError(f"collapse criterion {text!r}: unknown option {option!r} "
                                 "(allowed: persist=K, diverged=collapse|censor, reference=generation0|control)")
        if key in seen:
            raise CriterionError(f"collapse criterion {text!r}: option {key!r} given twice")
        seen.add(key)
        if key == "persist":
            if not value.isdigit() or int(value) < 1:
                raise CriterionError(f"collapse criterion {text!r}: persist must be an integer >= 1, got {value!r}")
            fields["persist"] = int(value)
        elif key == "reference":
            if value not in ("generation0", "control"):
                raise CriterionError(f"collapse criterion {text!r}: reference must be 'generation0' or 'control', "
                                     f"got {value!r}")
            fields["reference"] = value
        elif value not in ("collapse", "censor"):
            raise CriterionError(f"collapse criterion {text!r}: diverged must be 'collapse' or 'censor', got {value!r}")
        else:
            fields["diverged_is_collapse"] = value == "collapse"
    if metrics is not None and fields["metric"] not in metrics:
        raise CriterionError(f"collapse criterion {text!r}: unknown metric column {fields['metric']!r} "
                             f"(the rows have: {', '.join(metrics) or 'none'})")
    try:
        return parse(CollapseConfig, fields, "criterion")
    except ConfigError as err:
        raise CriterionError(f"collapse criterion {text!r}: {err}") from None


def format_criterion(c: CollapseConfig) -> str:
    """The inverse of parse_criterion: `parse_criterion(format_criterion(c)) == c`."""
    text = f"{c.metric}{'>=' if c.direction == 'up' else '<='}{c.threshold:g}{'x' if c.mode == 'relative' else ''}"
    if c.persist != 1:
        text += f":persist={c.persist}"
    if not c.diverged_is_collapse:
        text += ":diverged=censor"
    if c.reference != "generation0":
        text += f":reference={c.reference}"
    return text


def describe_criterion(c: CollapseConfig) -> str:
    """In words, for figure titles: `fid ≥ 2 × generation 0, 2 generations running`."""
    op = "≥" if c.direction == "up" else "≤"
    base = "generation 0" if c.reference == "generation0" else "the control chain (ratio 0)"
    limit = f"{c.threshold:g} × {base}" if c.mode == "relative" else f"{c.threshold:g}"
    text = f"{c.metric} {op} {limit}"
    if c.persist > 1:
        text += f", {c.persist} generations running"
    if not c.diverged_is_collapse:
        text += "; divergence censors"
    return text
