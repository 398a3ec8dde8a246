"""`healthbot verify`: a checkpoint's check of an offline code, from a token, a /verify URL or a photo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import command, operator_settings, run_with_services

if TYPE_CHECKING:
    from bot.engine.services import Services


def token_from(text: str) -> str:
    """A token, a /verify URL, or a path to an image of an offline code."""
    from urllib.parse import parse_qs, urlsplit

    if Path(text).is_file():
        import zxingcpp
        from PIL import Image

        found = zxingcpp.read_barcodes(Image.open(text))
        if not found:
            print("healthbot: no QR code found in that image", file=sys.stderr)
            raise SystemExit(2)
        text = found[0].text
    if "?" in text:
        text = parse_qs(urlsplit(text).query).get("t", [""])[0]
    return text


def cmd_verify(args: argparse.Namespace) -> None:
    """The guard's answer first; the exit status is 0 only for a genuine, unexpired code that is green now
    (bot.usecases.holders.OUTCOMES lists the others). In dev mode it reads the running dev server's store."""
    settings = operator_settings(args)
    token = token_from(args.token)

    async def check(services: Services) -> dict[str, object]:
        from bot.usecases.holders import check_offline

        return (await check_offline(services, token)).report()

    report = run_with_services(settings, check)
    from bot.ops.templates import Templates

    print(Templates(settings.paths.templates).render("cli/verify.txt", **report))
    raise SystemExit(int(report["exit_status"]))  # type: ignore[call-overload]


def add_commands(sub: Any) -> None:
    verify = command(sub, "verify", cmd_verify, "check an offline code: a token, a /verify URL or an image file")
    verify.add_argument("token")
