"""The look that every matplotlib figure of the app shares, so that it reads in a light page, a dark one and to
people who tell colours apart poorly.

- **Transparent**: a figure has no background of its own, so no white slab sits on a dark page.  Its ink is
  matplotlib's black; the page turns a figure's pixels over in dark mode (app.py's CSS), so black ink on nothing
  becomes light ink on the dark page, and colours keep their hue.
- **Colour-blind safe**: :data:`PALETTE` is Matthew Petroff's ten colours (matplotlib's "petroff10"), chosen to
  stay apart under the common colour-vision deficiencies; figures add a second cue (a name or a line style).

Matplotlib is imported inside the functions, not at the top: the app starts half a second sooner (python -m
aigc.bench).  Figures are drawn off-screen (Agg) without pyplot, so requests may draw at the same time.
"""

from PIL import Image

# Petroff, "Accessible Color Sequences for Data Visualization" (2021); hard-coded: matplotlib < 3.10 lacks the style
PALETTE = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6", "#a96b59", "#e76300", "#b9ac70", "#717581",
           "#92dadd")


def new_figure(inches: tuple[float, float], dpi: int = 100):
    """An off-screen matplotlib Figure with a transparent background, its lines in PALETTE's colours."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=inches, dpi=dpi, facecolor="none")
    FigureCanvasAgg(figure)
    return figure


def styled(axes) -> None:
    """Axes with no background (the page shows through) and PALETTE for their lines, in order."""
    axes.set_facecolor("none")
    axes.set_prop_cycle(color=PALETTE)


def picture(figure) -> Image.Image:
    """The figure drawn, as an RGBA picture (transparent where nothing is drawn)."""
    figure.canvas.draw()
    width, height = figure.canvas.get_width_height()
    return Image.frombuffer("RGBA", (width, height), bytes(figure.canvas.buffer_rgba()), "raw", "RGBA", 0, 1).copy()
