"""autophagy: map model collapse in self-consuming diffusion training loops, on a Ray cluster.

    import autophagy
    run = autophagy.open("runs/smoke")   # see autophagy/api.py and docs/api.md

`open` and `Run` load on first use: importing autophagy stays light (no Ray, no pandas).
"""

__version__ = "0.1.0"
__all__ = ["Run", "__version__", "open"]


def __getattr__(name: str):
    if name in ("open", "Run"):
        from autophagy import api

        return getattr(api, name)
    raise AttributeError(f"module 'autophagy' has no attribute {name!r}")
