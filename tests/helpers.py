"""Small image helpers for tests."""

from __future__ import annotations

import io

from PIL import Image


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    return buffer.getvalue()
