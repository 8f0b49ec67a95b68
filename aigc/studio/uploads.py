"""Any picture a person sends -> what an MNIST-style model takes: 28×28, grayscale, light on dark.

Uploads come in every size, mode and polarity: photos, scans, 16-bit PNGs,
palette GIFs, drawings with a transparent background, a dark pen on white
paper.  The steps, in order: flatten transparency onto a background that
contrasts with what is drawn, convert to gray, stretch the contrast, invert if
the background is light, crop to the drawing, pad it to a square and shrink it
into the middle of the frame, as the datasets were made.
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from aigc.studio import InputError

# Pillow opens dozens of formats, some through outside programs (EPS runs Ghostscript): uploads are opened as these
# only, by Pillow's own name for each.
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
MAX_PIXELS = 50_000_000  # refuse decompression bombs before decoding them
WORKING_SIZE = 256  # shrink big pictures first: the model sees 28 px anyway
INK = 0.25  # a pixel brighter than this (after inversion) is part of the drawing


def read_image(source, what: str = "image") -> Image.Image:
    """A path, PIL image or array -> a decoded PIL image; InputError if it is missing or not a picture."""
    if source is None or (isinstance(source, str) and not source.strip()):
        raise InputError(f"{what} is missing: upload, draw or pick one")
    if isinstance(source, np.ndarray):
        try:
            return Image.fromarray(source)
        except (TypeError, ValueError) as e:
            raise InputError(f"{what}: an array of shape {source.shape} ({source.dtype}) is not a picture") from e
    if isinstance(source, Image.Image):
        return source
    try:
        image = Image.open(Path(source), formats=FORMATS)
        if image.width * image.height > MAX_PIXELS:
            limit = MAX_PIXELS // 10**6
            raise InputError(f"{what} is {image.width}×{image.height} pixels; the limit is {limit} megapixels")
        image.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise InputError(f"{what} is not a picture that can be read: send a PNG, JPEG, GIF, WebP, BMP or TIFF") from e
    except FileNotFoundError:  # Gradio deletes uploads after a while (app.DELETE_CACHE)
        raise InputError(f"{what} is no longer on the server: upload it again") from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt files
        raise InputError(f"{what} could not be read: {e}") from e
    return image


def grayscale(image: Image.Image, what: str) -> np.ndarray:
    """Any mode -> float [H, W] in [0, 1], shrunk to at most WORKING_SIZE, contrast stretched."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # high bit depth: keep every level
        image = image.convert("F")
        image.thumbnail((WORKING_SIZE, WORKING_SIZE))
        pixels = np.asarray(image, dtype=np.float64)
    else:
        try:
            image = image.convert("RGBA")
        except ValueError as e:
            raise InputError(f"{what} has a colour mode ({image.mode}) that cannot be converted") from e
        image.thumbnail((WORKING_SIZE, WORKING_SIZE))
        rgba = np.asarray(image, dtype=np.float64) / 255
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        alpha = rgba[..., 3]
        # a transparent background takes the colour opposite to what is drawn on it
        drawn = alpha > 0.5
        background = 1.0 if not drawn.any() or gray[drawn].mean() < 0.5 else 0.0
        pixels = alpha * gray + (1 - alpha) * background
    low, high = pixels.min(), pixels.max()
    if not np.isfinite(high - low) or high - low < 1e-6 * max(1.0, abs(high)):
        raise InputError(f"{what} is blank (a single colour): draw or upload something")
    return (pixels - low) / (high - low)


def to_model_input(source, what: str = "image", size: int = 28, margin: int = 4) -> torch.Tensor:
    """A picture -> float [1, size, size] in [0, 1], light on dark, the drawing fitted inside ``margin`` px."""
    pixels = grayscale(read_image(source, what), what)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if np.median(border) > 0.5:  # a light background, e.g. a dark pen on white paper
        pixels = 1 - pixels
    rows, cols = np.nonzero(pixels > INK)
    if len(rows):
        pixels = pixels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = pixels.shape
    side = max(height, width)
    square = np.zeros((side, side))
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = pixels
    inner = size - 2 * margin
    shrunk = F.interpolate(torch.from_numpy(square).float()[None, None], size=(inner, inner),
                           mode="bilinear", antialias=True, align_corners=False)
    return F.pad(shrunk, (margin,) * 4)[0].clamp(0, 1)
