"""`healthbot verify`: a checkpoint's check of a code, from a token, a /verify URL, or a photo of an offline
code or of a citizen's online code. It says what it was given, and the exit status is the outcome's
(bot.usecases.holders.OUTCOMES): 0 only for a genuine code that is green now."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bot.cli.common import command, operator_settings, redis_problem, run_with_services

if TYPE_CHECKING:
    from bot.engine.services import Services

SIGNED = re.compile(r"v\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")  # bot.domain.tokens' shape
MOST_PIXELS = 40_000_000  # a phone's photo is ~12 M; a larger "image" is refused before it is decoded
UNAVAILABLE = 15


def refuse(message: str) -> None:
    print(f"healthbot: {message}", file=sys.stderr)
    raise SystemExit(2)


def read_qr(path: Path) -> str:
    """The text of the QR in an image file; one line and status 2 for anything that is not such an image."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
            if width * height > MOST_PIXELS:
                refuse(f"{path} is {width}×{height} pixels, larger than a photo of a code; not read")
            image.load()
            found = zxingcpp.read_barcodes(image)
    except Image.DecompressionBombError:  # Pillow's own bound, past twice its MAX_IMAGE_PIXELS
        refuse(f"{path} is larger than a photo of a code; not read")
    except (UnidentifiedImageError, OSError, ValueError):
        refuse(f"{path} is not an image healthbot can read")
    if not found:
        refuse(f"no QR code found in {path}")
    return found[0].text


def what_was_given(text: str) -> tuple[str, str]:
    """("offline", token) or ("online", QR token): from a token, a URL, or an image file's QR. A token is never
    looked for as a file (it cannot be one, and a long one is no valid file name)."""
    if not SIGNED.fullmatch(text) and not text.startswith(("http://", "https://")):
        try:
            is_file = Path(text).is_file()
        except OSError:  # a name too long for a file, or one the system refuses
            is_file = False
        if not is_file:
            refuse(f"{text[:80]!r} is neither a file nor a code: give an offline code's token, a /verify URL, "
                   "or a photo of a code")
        text = read_qr(Path(text))
    parts = urlsplit(text)
    if "/c/" in parts.path:  # a citizen's online code: the guard's page for a QR token
        return "online", parts.path.rsplit("/c/", 1)[1]
    if parts.query:
        return "offline", parse_qs(parts.query).get("t", [""])[0]
    return "offline", text


def cmd_verify(args: argparse.Namespace) -> None:
    kind, token = what_was_given(args.token)
    settings = operator_settings(args, check=False)
    if problem := redis_problem(settings):  # the guard's answer: the colour cannot be confirmed now
        print(f"healthbot: {problem}; the colour cannot be confirmed", file=sys.stderr)
        raise SystemExit(UNAVAILABLE)

    async def check(services: Services) -> dict[str, object]:
        from bot.usecases.holders import check_offline, check_online

        if kind == "online":
            return (await check_online(services, token)).report()
        return (await check_offline(services, token)).report()

    try:
        report = run_with_services(settings, check)
    except SystemExit as stop:  # Redis failed during the check (one line said so): no colour confirmed
        raise SystemExit(UNAVAILABLE if stop.code == 1 else stop.code) from None
    from bot.ops.templates import Texts

    print(Texts(settings.paths.templates).of().render("cli/verify.txt", kind=kind, **report))
    raise SystemExit(int(report["exit_status"]))  # type: ignore[call-overload]


def add_commands(sub: Any) -> None:
    verify = command(sub, "verify", cmd_verify, "check a code: an offline code's token or /verify URL, or a photo "
                                                 "of an offline or online code")
    verify.add_argument("token")

