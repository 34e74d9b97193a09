"""`stable-diffusion`: a diffusers text-to-image pipeline from local weights (see backend.py)."""
