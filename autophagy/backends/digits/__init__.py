"""The `digits` backend: a class-conditional DDPM on 8x8 handwritten digits (see backend.py)."""
