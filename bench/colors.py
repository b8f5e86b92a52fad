"""Colours shared by the report's figures and the explore page: one convention, in one place.

Plain hex strings, so the report (matplotlib) and the explore page (JavaScript, through its
data document) read the same values; nothing here imports a plotting library.

    CLASS_COLOURS       class k of a decision surface and of its test points: seaborn's
                        "colorblind" palette, so class 0 is blue and class 1 orange; more classes
                        than colours repeat them (as seaborn's palette does)
    two classes         P(class 1) shaded from CLASS_COLOURS[0] at 0 through white at 0.5 to
                        CLASS_COLOURS[1] at 1, linear in RGB: `two_class_stops()`
    more classes        the predicted class's colour mixed with white, MULTICLASS_SHADE[0] of it
                        where the model is at chance to MULTICLASS_SHADE[1] where it is sure
    VALUE_COLOURS       regression: predicted values and targets, low blue to high red
                        (matplotlib's "coolwarm", VALUE_CMAP, sampled evenly from 0 to 1)
    activations         `activation_colours`: affine activations AFFINE_COLOUR (the palette's
                        grey), the others ACTIVATION_COLOURS in display order
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

PALETTE = "colorblind"  # seaborn's name for CLASS_COLOURS
CLASS_COLOURS: tuple[str, ...] = (
    "#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
    "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9",
)  # fmt: skip
MULTICLASS_SHADE: tuple[float, float] = (0.2, 0.8)  # share of the class colour: at chance, sure

VALUE_CMAP = "coolwarm"
VALUE_COLOURS: tuple[str, ...] = (
    "#3b4cc0", "#5977e3", "#7b9ff9", "#9ebeff", "#c0d4f5", "#dddcdc",
    "#f2cbb7", "#f7ac8e", "#ee8468", "#d65244", "#b40426",
)  # fmt: skip

GREY = 7  # CLASS_COLOURS' grey: kept for affine activations
AFFINE_COLOUR = CLASS_COLOURS[GREY]
# After the palette's nine other colours: Kelly's colours of maximum contrast that differ from
# them and from grey, so that 20 activations get 20 colours.
MORE_COLOURS: tuple[str, ...] = (
    "#875692", "#882d17", "#8db600", "#e68fac", "#f6a600", "#604e97", "#2b3d26", "#c2b280",
    "#e25822", "#654522", "#be0032",
)  # fmt: skip
ACTIVATION_COLOURS: tuple[str, ...] = (
    *(c for i, c in enumerate(CLASS_COLOURS) if i != GREY),
    *MORE_COLOURS,
)


def class_colours(n_classes: int) -> list[str]:
    """The colours of classes 0 .. n_classes - 1 (at least two), repeating past ten."""
    return [CLASS_COLOURS[k % len(CLASS_COLOURS)] for k in range(max(n_classes, 2))]


def two_class_stops() -> list[str]:
    """A two-class surface's colour scale for P(class 1): [at 0, at 0.5, at 1]."""
    return [CLASS_COLOURS[0], "#ffffff", CLASS_COLOURS[1]]


def activation_colours(names: Iterable[str], affine: Collection[str] = ()) -> dict[str, str]:
    """A colour per activation, `names` in display order: the `affine` ones AFFINE_COLOUR, the
    others ACTIVATION_COLOURS in turn (repeating past 20)."""
    colours, k = {}, 0
    for name in names:
        if name in affine:
            colours[name] = AFFINE_COLOUR
        else:
            colours[name] = ACTIVATION_COLOURS[k % len(ACTIVATION_COLOURS)]
            k += 1
    return colours
