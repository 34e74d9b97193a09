"""autophagy: map model collapse in self-consuming diffusion training loops, on a Ray cluster."""

__version__ = "0.1.0"
