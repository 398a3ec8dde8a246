"""Rendering as the server runs it: the CJK font found on this machine, and drawing in worker threads so the
event loop keeps answering WeChat while an image is made (bot/domain/render.py draws)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import ImageFont

from bot.domain.render import CodeCard, OfflineCard, Painter, TravelImage, has_glyph


class FontMissing(Exception):
    pass


def find_cjk_font(configured: str = "") -> str:
    """The configured font, else the first fontconfig match for Chinese; FontMissing when there is none."""
    if configured:
        if not Path(configured).is_file():
            raise FontMissing(f"render.font: {configured} does not exist")
        return configured
    fc_match = shutil.which("fc-match")
    if fc_match:
        found = subprocess.run(  # noqa: S603 - fixed arguments, no user input
            [fc_match, "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
        if found and Path(found).is_file() and _has_cjk(found):
            return found
    raise FontMissing(
        "render.font: no CJK font found through fontconfig; install one (apt-get install fonts-wqy-microhei) "
        "or set [render] font to a .ttf/.ttc path"
    )


EXTENSION_B_PROBE = "\U00020bb7"  # 𠮷, as in 𠮷祥: a name character of CJK Extension B


def find_fallback_fonts(main: str) -> tuple[str, ...]:
    """Fonts fontconfig knows that draw CJK Extension B (Debian: fonts-hanazono), for names the main font
    lacks a glyph of; empty when there are none (such a character then shows the main font's box)."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return ()
    listed = subprocess.run(  # noqa: S603 - fixed arguments, no user input
        [fc_list, f":charset={ord(EXTENSION_B_PROBE):x}", "file"], capture_output=True, text=True, timeout=5,
        check=False).stdout
    found: list[str] = []
    for line in sorted(listed.splitlines()):
        path = line.split(":")[0].strip()
        if not path or not Path(path).is_file():
            continue
        path = str(Path(path).resolve())  # a font and a link to it are one font
        if path != str(Path(main).resolve()) and path not in found:
            try:
                if has_glyph(ImageFont.truetype(path, 20), EXTENSION_B_PROBE):
                    found.append(path)
            except OSError:
                continue
    return tuple(found[:3])


def _has_cjk(path: str) -> bool:
    try:
        font = ImageFont.truetype(path, 20)
    except OSError:
        return False
    return font.getmask("码").getbbox() is not None


class Renderer(Painter):
    """A Painter whose drawing runs in its own thread pool."""

    def __init__(self, font_path: str, threads: int = 2, fallbacks: tuple[str, ...] | None = None) -> None:
        super().__init__(font_path, (lambda: find_fallback_fonts(font_path)) if fallbacks is None else fallbacks)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="render")

    async def render(self, card: CodeCard) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.render_sync, card)

    async def render_travel(self, card: TravelImage) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.render_travel_sync, card)

    async def render_combined(self, code: CodeCard, travel: TravelImage) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.render_combined_sync, code, travel)

    async def render_offline(self, card: OfflineCard) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.render_offline_sync, card)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
