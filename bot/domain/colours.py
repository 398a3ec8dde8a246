"""The colours a code can have. Their words live in templates/_colours.txt; their inks here."""

from __future__ import annotations

HEALTH_COLOURS = ("green", "yellow", "red")
TRAVEL_COLOURS = ("green", "yellow", "orange", "red")

INKS = {"green": (26, 173, 25), "yellow": (255, 159, 0), "orange": (255, 109, 0), "red": (229, 57, 53)}
