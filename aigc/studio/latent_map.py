"""Maps of a VAE's latent space: the decoded manifold of a 2-D VAE, and the test set's codes coloured by class.

- The **manifold** (Kingma & Welling, 2014, figure 4): a ``GRID`` × ``GRID`` grid of codes
  z = (Φ⁻¹(p₁), Φ⁻¹(p₂)), at evenly spaced quantiles p of the prior N(0, 1) from ``QUANTILES[0]`` to
  ``QUANTILES[1]``, each decoded into one cell of a picture; z₁ grows to the right and z₂ upwards.
  A click anywhere on it decodes the code under the cursor, continuous in the quantiles between cell centres.
- The **map**: the means of q(z|x) of the test set, one colour a class. A 2-D VAE is drawn in its own
  axes z₁, z₂; a larger one on the plane of the codes' first two principal components (PCA), where a
  path of codes (the interpolation's frames) can be drawn, and a click decodes the point of the plane.

Both are computed once per model and kept (:func:`latent_map`, :func:`manifold`); drawing a path or
decoding a click only maps coordinates.  Matplotlib draws off-screen (Agg) on a figure of its own,
so requests may draw at the same time.
"""

import functools
import math
from dataclasses import dataclass

import torch
from PIL import Image, ImageDraw

from aigc.data import held_out
from aigc.images import to_pil
from aigc.studio import InputError, figures, number
from aigc.studio.models import dataset_of, registry

GRID = 15  # manifold cells a side
QUANTILES = (0.05, 0.95)  # the prior's quantiles at the first and last cells' centres, as in Kingma & Welling
CELL_SCALE = 1  # manifold cells are the model's pixels (28 px): 420 px for 15 cells
POINT_SCALE = 10  # a decoded point: 280 px
FIGURE_INCHES, DPI = (5.6, 4.4), 100  # the map: 560 × 440 px
ENCODE_BATCH = 1000
PATH_COLOUR, HALO_COLOUR = (20, 20, 20), (255, 255, 255)


def vae_of(model: str) -> torch.nn.Module:
    return registry().get(model, "vae")


def latent_dim(model: str) -> int:
    return vae_of(model).config.latent_dim


def check_two_dimensional(model: str) -> torch.nn.Module:
    vae = vae_of(model)
    if vae.config.latent_dim != 2:
        raise InputError(f"{model} has a {vae.config.latent_dim}-d latent space; the manifold needs a 2-d one")
    return vae


def coordinate(value, name: str, size: int) -> float:
    """A pixel coordinate clamped into a picture ``size`` pixels long; NaN or not a number raises InputError."""
    return number(value, name, 0, size, size / 2)


def click_point(index) -> tuple[float, float]:
    """A click's pixel (x, y), as a gr.SelectData index or any pair of numbers."""
    if not isinstance(index, (list, tuple)) or len(index) != 2:
        raise InputError(f"Expected a click's (x, y) pixel coordinates, not {index!r}")
    return index[0], index[1]


# --- the manifold of a 2-D VAE ---------------------------------------------------------------------

def quantile_levels(n: int = GRID) -> torch.Tensor:
    """The quantiles at the centres of the cells, ascending: [n]."""
    return torch.linspace(*QUANTILES, n, dtype=torch.float64)


def gaussian_quantile(p: torch.Tensor) -> torch.Tensor:
    """Φ⁻¹(p), the standard normal's inverse CDF."""
    return math.sqrt(2) * torch.erfinv(2 * p - 1)


def manifold_codes(n: int = GRID) -> torch.Tensor:
    """-> z [n, n, 2], indexed [row, column]: z₁ grows with the column, z₂ shrinks with the row (up is +)."""
    z = gaussian_quantile(quantile_levels(n)).float()
    return torch.stack([z[None, :].expand(n, n), z.flip(0)[:, None].expand(n, n)], dim=-1)


def manifold_pixel_to_z(x, y, size: int = 28 * CELL_SCALE, n: int = GRID) -> torch.Tensor:
    """The code under pixel (x, y) of the manifold picture: float [2].

    Cell centres give exactly their cells' codes; in between, the quantile moves linearly with the
    pixel, so the whole picture is covered continuously (its edges reach half a cell beyond the grid).
    """
    x, y = coordinate(x, "x", n * size), coordinate(y, "y", n * size)
    low, high = QUANTILES
    step = (high - low) / (n - 1)
    column, row = x / size - 0.5, y / size - 0.5  # in cells, 0 at the first centre
    levels = torch.tensor([low + column * step, high - row * step], dtype=torch.float64)
    return gaussian_quantile(levels.clamp(1e-4, 1 - 1e-4)).float()


def manifold_tensors(model: str, n: int = GRID) -> torch.Tensor:
    """The decoded grid: float [n, n, C, H, W] in [0, 1]."""
    vae = check_two_dimensional(model)
    with torch.inference_mode():
        images = vae.decode(manifold_codes(n).reshape(-1, 2)).cpu()
    return images.reshape(n, n, *images.shape[1:])


@functools.lru_cache(maxsize=None)
def manifold(model: str) -> Image.Image:
    """The decoded grid as one picture, cells side by side (no gaps, so that pixels map to codes simply)."""
    images = manifold_tensors(model)
    rows = torch.cat([torch.cat(list(row), dim=2) for row in images], dim=1)  # [C, n*H, n*W]
    return to_pil(rows, CELL_SCALE)


def decode_point(model: str, z) -> Image.Image:
    """One code, float [latent_dim], decoded into a large picture."""
    vae = vae_of(model)
    with torch.inference_mode():
        image = vae.decode(torch.as_tensor(z, dtype=torch.float32).reshape(1, -1))[0]
    return to_pil(image, POINT_SCALE)


def click_manifold(model: str, index) -> tuple[Image.Image, torch.Tensor]:
    """A click on the manifold picture -> (the code under it decoded, large; that code [2])."""
    check_two_dimensional(model)
    z = manifold_pixel_to_z(*click_point(index))
    return decode_point(model, z), z


# --- the map of the test set's codes ---------------------------------------------------------------

@dataclass(frozen=True)
class LatentMap:
    """The test set's codes drawn on a plane, and the maps between codes, the plane and the picture's pixels.

    A code z [D] sits at (z - mean) @ components.T on the plane; a point p of the plane is the code
    mean + p @ components (for a 2-D VAE: mean 0, components the identity, so the plane is z itself).
    """

    picture: Image.Image
    mean: torch.Tensor  # [D]
    components: torch.Tensor  # [2, D], orthonormal rows
    coords: torch.Tensor  # [N, 2], the test codes on the plane
    labels: torch.Tensor  # [N]
    class_names: tuple[str, ...]
    class_colours: tuple[tuple[float, float, float, float], ...]  # RGBA of each class's dots, as drawn
    explained: tuple[float, float]  # fraction of the codes' variance along each axis
    limits: tuple[float, float, float, float]  # x0, x1, y0, y1 of the axes, in plane coordinates
    box: tuple[float, float, float, float]  # left, top, right, bottom of the axes, in pixels

    def to_plane(self, z: torch.Tensor) -> torch.Tensor:
        return (torch.as_tensor(z, dtype=torch.float32).reshape(-1, len(self.mean)) - self.mean) @ self.components.T

    def from_plane(self, p: torch.Tensor) -> torch.Tensor:
        return self.mean + torch.as_tensor(p, dtype=torch.float32).reshape(-1, 2) @ self.components

    def plane_to_pixels(self, p: torch.Tensor) -> torch.Tensor:
        (x0, x1, y0, y1), (left, top, right, bottom) = self.limits, self.box
        p = torch.as_tensor(p, dtype=torch.float64).reshape(-1, 2)
        return torch.stack([left + (p[:, 0] - x0) / (x1 - x0) * (right - left),
                            bottom - (p[:, 1] - y0) / (y1 - y0) * (bottom - top)], dim=1)

    def pixels_to_plane(self, x: float, y: float) -> torch.Tensor:
        (x0, x1, y0, y1), (left, top, right, bottom) = self.limits, self.box
        return torch.tensor([x0 + (x - left) / (right - left) * (x1 - x0),
                             y0 + (bottom - y) / (bottom - top) * (y1 - y0)], dtype=torch.float32)


@torch.inference_mode()
def encode_test_set(model: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """-> (means of q(z|x) of the model's test set [N, D], labels [N], class names)."""
    vae = vae_of(model)
    dataset = dataset_of(vae)
    if dataset is None:
        raise InputError(f"{model}'s classes match no known dataset, so it has no test set to map")
    images = held_out(dataset)
    mu = torch.cat([vae.encode(batch.to(vae.device))[0].float().cpu() for batch in images.images.split(ENCODE_BATCH)])
    return mu, images.labels, list(vae.config.class_names)


def principal_plane(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[float, float]]:
    """-> (mean [D], the first two principal directions [2, D], the fraction of variance along each).

    A 2-D code space is its own plane (mean 0, identity), so the map shows z itself.
    Each direction's sign is fixed (its largest entry positive), so the map does not flip between runs.
    """
    dim = codes.shape[1]
    centred = codes.double() - codes.double().mean(0)
    total = float(centred.pow(2).sum()) or 1.0
    if dim == 2:
        variance = centred.pow(2).sum(0) / total
        return torch.zeros(2), torch.eye(2), (float(variance[0]), float(variance[1]))
    _, singular, vt = torch.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    components = components * signs
    explained = (singular[:2] ** 2 / total).tolist()
    return codes.double().mean(0).float(), components.float(), (explained[0], explained[1])


def axis_limits(coords: torch.Tensor, two_d: bool) -> tuple[float, float, float, float]:
    """Axes that hold all but the outermost 0.5% of the codes each way (and a 2-D VAE's manifold), with a margin."""
    low = torch.quantile(coords, 0.005, dim=0)
    high = torch.quantile(coords, 0.995, dim=0)
    if two_d:  # the square that the manifold covers
        edge = float(gaussian_quantile(torch.tensor(QUANTILES[1], dtype=torch.float64)))
        low, high = low.clamp(max=-edge), high.clamp(min=edge)
    margin = (high - low).clamp_min(1e-3) * 0.06
    low, high = low - margin, high + margin
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def draw_map(model: str, coords: torch.Tensor, labels: torch.Tensor, class_names: list[str],
             explained: tuple[float, float], two_d: bool):
    """Matplotlib's scatter -> (picture, colours, limits, axes box in pixels); the look of aigc.studio.figures."""
    import matplotlib  # here, not at the top: the app starts half a second sooner (python -m aigc.bench)
    from matplotlib.patches import Rectangle

    figure = figures.new_figure(FIGURE_INCHES, DPI)
    axes = figure.add_axes((0.12, 0.11, 0.6, 0.77))  # room above for the title, clear of the label
    figures.styled(axes)
    palette = figures.PALETTE if len(class_names) <= len(figures.PALETTE) else matplotlib.colormaps["tab20"].colors
    drawn = []
    points = coords.numpy()
    for c, name in enumerate(class_names):
        mine = (labels == c).numpy()
        dots = axes.scatter(points[mine, 0], points[mine, 1], s=5, color=palette[c % len(palette)], alpha=0.7,
                            linewidths=0, label=name)
        drawn.append(tuple(float(v) for v in dots.get_facecolor()[0]))
    limits = axis_limits(coords, two_d)
    axes.set_xlim(limits[0], limits[1])
    axes.set_ylim(limits[2], limits[3])
    if two_d:
        edge = float(gaussian_quantile(torch.tensor(QUANTILES[1], dtype=torch.float64)))
        axes.add_patch(Rectangle((-edge, -edge), 2 * edge, 2 * edge, fill=False, linestyle="--", linewidth=0.8,
                                 edgecolor="0.4", label="the manifold"))
        axes.set_xlabel("z₁")
        axes.set_ylabel("z₂")
        axes.set_title(f"{model}: {coords.shape[0]:,} test codes (means of q(z|x))", fontsize=10)
    else:
        axes.set_xlabel(f"principal component 1 ({explained[0]:.0%} of the variance)")
        axes.set_ylabel(f"principal component 2 ({explained[1]:.0%})")
        axes.set_title(f"{model}: test codes, PCA of {coords.shape[0]:,} means", fontsize=10)
    axes.grid(alpha=0.25)
    name_classes(axes, coords, labels, class_names, drawn)
    legend = axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False,
                         markerscale=2.5, title="class", title_fontsize=8)
    for handle in legend.legend_handles:
        if hasattr(handle, "set_alpha"):
            handle.set_alpha(1)
    picture = figures.picture(figure)
    extent = axes.get_window_extent()  # display pixels, origin at the bottom left
    box = (float(extent.x0), float(picture.height - extent.y1), float(extent.x1), float(picture.height - extent.y0))
    return picture, tuple(drawn), limits, box


def name_classes(axes, coords: torch.Tensor, labels: torch.Tensor, class_names: list[str], colours: list) -> None:
    """Each class's name written at the median of its codes, framed in its colour: a cue besides the colour."""
    for c, name in enumerate(class_names):
        mine = coords[labels == c]
        if len(mine):
            x, y = mine.median(0).values.tolist()
            axes.text(x, y, name, fontsize=7, ha="center", va="center", clip_on=True,
                      bbox=dict(boxstyle="round,pad=0.2", facecolor=(1, 1, 1, 0.8), edgecolor=colours[c][:3],
                                linewidth=1.2))


@functools.lru_cache(maxsize=None)
def latent_map(model: str) -> LatentMap:
    """The map of ``model``'s test codes, computed on first use and kept."""
    codes, labels, class_names = encode_test_set(model)
    mean, components, explained = principal_plane(codes)
    two_d = codes.shape[1] == 2
    coords = (codes - mean) @ components.T
    picture, colours, limits, box = draw_map(model, coords, labels, class_names, explained, two_d)
    return LatentMap(picture, mean, components, coords, labels, tuple(class_names), colours, explained, limits, box)


def path_pixels(model: str, path: torch.Tensor) -> torch.Tensor:
    """Codes [S, D] (an interpolation's frames) -> where they fall on the map's picture, pixels [S, 2]."""
    view = latent_map(model)
    return view.plane_to_pixels(view.to_plane(path.detach().float().cpu()))


def map_picture(model: str, path: torch.Tensor | None = None) -> Image.Image:
    """The map, with a path of codes (A → B) drawn over it when one is given."""
    view = latent_map(model)
    picture = view.picture.copy()
    if path is None or len(path) == 0:
        return picture
    points = [tuple(p) for p in path_pixels(model, path).tolist()]
    draw = ImageDraw.Draw(picture)
    if len(points) > 1:
        draw.line(points, fill=HALO_COLOUR, width=5, joint="curve")
        draw.line(points, fill=PATH_COLOUR, width=2, joint="curve")
    for x, y in points:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=PATH_COLOUR, outline=HALO_COLOUR)
    for (x, y), name in ((points[0], "A"), (points[-1], "B")):
        draw.ellipse((x - 9, y - 9, x + 9, y + 9), fill=HALO_COLOUR, outline=PATH_COLOUR, width=2)
        draw.text((x, y), name, fill=PATH_COLOUR, anchor="mm", font_size=13)
    return picture


def click_map(model: str, index) -> tuple[Image.Image, torch.Tensor]:
    """A click on the map -> (the code under it decoded, large; that code [D]).

    For a VAE of more than 2 dimensions the code is the point of the PCA plane under the cursor.
    """
    view = latent_map(model)
    x, y = click_point(index)
    x, y = coordinate(x, "x", view.picture.width), coordinate(y, "y", view.picture.height)
    z = view.from_plane(view.pixels_to_plane(x, y))[0]
    return decode_point(model, z), z


def describe(z: torch.Tensor) -> str:
    """A short label for a code: its values for 2 dimensions, else its norm."""
    z = torch.as_tensor(z).flatten()
    if len(z) <= 4:
        return "z = (" + ", ".join(f"{float(v):+.2f}" for v in z) + ")"
    return f"z on the PCA plane, ‖z‖ = {float(z.norm()):.2f}"

