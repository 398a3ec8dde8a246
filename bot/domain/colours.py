"""The colours a code can have. Their words live in templates/_colours.txt; their inks here."""

from __future__ import annotations

HEALTH_COLOURS = ("green", "yellow", "red")
TRAVEL_COLOURS = ("green", "yellow", "orange", "red")

INKS = {"green": (26, 173, 25), "yellow": (255, 159, 0), "orange": (255, 109, 0), "red": (229, 57, 53)}

# A code's QR modules: deep shades, dark enough for a cheap scanner's fixed threshold in every colour (grey
# level under 110 of 255; yellow's own ink is 170). The frame and the title bar carry the bright colour.
QR_INKS = {"green": (0, 110, 0), "yellow": (150, 95, 0), "red": (170, 20, 20)}
