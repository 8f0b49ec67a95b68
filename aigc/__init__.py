"""AIGC Studio: a GAN, a VAE and a GPT to explore in the browser, and the code to train and measure them."""

from aigc.hub import ModelLoadError, list_models, load

__all__ = ["ModelLoadError", "list_models", "load"]
