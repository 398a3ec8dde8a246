"""The colours a code can have. Their words live in templates/_colours.txt; their inks here."""

from __future__ import annotations

HEALTH_COLOURS = ("green", "yellow", "red")
TRAVEL_COLOURS = ("green", "yellow", "orange", "red")

# The bright inks of title bars and frames. Red is a shade darker than a plain red so that white text on it
# reaches WCAG's 4.5 : 1; the others carry near-black text (ON_INKS).
INKS = {"green": (26, 173, 25), "yellow": (255, 159, 0), "orange": (255, 109, 0), "red": (211, 47, 47)}
NEAR_BLACK, WHITE = (34, 34, 34), (255, 255, 255)
ON_INKS = {"green": NEAR_BLACK, "yellow": NEAR_BLACK, "orange": NEAR_BLACK, "red": WHITE}

# Colour is never the only signal: each colour has a shape beside its word, told apart in greyscale too.
SHAPES = {"green": "check", "yellow": "bang", "red": "cross"}

# A code's QR modules: deep shades, dark enough for a cheap scanner's fixed threshold in every colour (grey
# level under 110 of 255; yellow's own ink is 170). The frame and the title bar carry the bright colour.
QR_INKS = {"green": (0, 110, 0), "yellow": (150, 95, 0), "red": (170, 20, 20)}


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2's relative luminance of an sRGB colour."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2's contrast ratio of two colours, from 1 to 21; text needs 4.5 (docs/accessibility.md)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
