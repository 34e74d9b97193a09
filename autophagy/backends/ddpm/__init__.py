"""The `ddpm` backend: a diffusers UNet2DModel DDPM in pixel space on the user's images (see backend.py)."""
