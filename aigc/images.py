"""Tensors <-> pictures: grids, crisp upscaling and PNG/GIF files."""

from pathlib import Path

import torch
from PIL import Image


def to_pil(image: torch.Tensor, scale: int = 1) -> Image.Image:
    """One image, float [C, H, W] in [0, 1] -> a PIL image, upscaled by nearest neighbour (no blur)."""
    array = (image.detach().float().clamp(0, 1) * 255).round().byte().cpu().numpy()
    pil = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    return pil


def make_grid(images: torch.Tensor, nrow: int, padding: int = 2, pad_value: float = 0.25) -> torch.Tensor:
    """[N, C, H, W] -> one [C, H', W'] image with ``nrow`` images a row."""
    n, c, h, w = images.shape
    rows = -(-n // nrow)
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i, image in enumerate(images.detach().float().cpu()):
        y, x = padding + (i // nrow) * (h + padding), padding + (i % nrow) * (w + padding)
        grid[:, y : y + h, x : x + w] = image
    return grid


def save_grid(images: torch.Tensor, path: str | Path, nrow: int, scale: int = 2) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(make_grid(images, nrow), scale).save(path)
    return path


def save_gif(frames: list[Image.Image], path: str | Path, duration_ms: int = 80, ping_pong: bool = False) -> Path:
    """An endlessly looping GIF; ping-pong plays the frames forward then back."""
    if ping_pong and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0, disposal=2)
    return Path(path)
