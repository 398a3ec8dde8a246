"""Tools for trying healthbot out and running it: chat, keys, the menu, the stand-in WeChat API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import command, operator_settings, run_with_services, settings_of, whole
from bot.ops.config import STANDIN_PATH, Settings, new_key

if TYPE_CHECKING:
    from bot.engine.services import Services


def cmd_chat(args: argparse.Namespace) -> None:
    from bot.devkit.chat import run_chat

    settings = settings_of(args)
    if settings.dev_mode and not args.url:  # the running dev server says where it listens (another --port)
        settings = operator_settings(args, check=False)
    url = args.url or settings.public_url + "/wechat"
    if settings.dev_mode:  # the dev server carries its stand-in WeChat API beside /wechat
        settings.wechat.api_base = url.rsplit("/", 1)[0] + STANDIN_PATH
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_chat(settings, url, args.user, Path(args.images)))


def cmd_keygen(args: argparse.Namespace) -> None:
    kid = f"k{int(time.time())}"
    if args.signing_key:
        print(f"# a new signing key: append it to [security] signing_keys (keep the old ones until the codes they\n"
              f"# signed expire), then set active_key_id = \"{kid}\". Do not touch index_key or data_key.\n"
              f"{kid}:{new_key()}")
        return
    print(f"# keys for a NEW deployment. Never paste index_key or data_key over a running one's: every stored\n"
          f"# record becomes unreadable. To rotate the signing key: healthbot keygen --signing-key\n"
          f"index_key = \"{new_key()}\"\ndata_key = \"{new_key()}\"\n"
          f"signing_keys = \"{kid}:{new_key()}\"\nactive_key_id = \"{kid}\"")


def menu_from_settings(settings: Settings) -> dict[str, Any]:
    menu = settings.menu
    if not menu.get("button"):
        print("healthbot: config error: [menu] has no buttons", file=sys.stderr)
        raise SystemExit(2)
    return {"button": menu["button"]}


def cmd_menu(args: argparse.Namespace) -> None:
    from bot.wechat.menu import validate_menu

    settings = settings_of(args)
    menu = menu_from_settings(settings)
    problem = validate_menu(menu)
    if args.action == "show":
        print(json.dumps(menu, ensure_ascii=False, indent=2))
        if problem:
            print(f"WARNING: WeChat would refuse this menu: {problem}", file=sys.stderr)
        return
    if problem:
        print(f"healthbot: menu refused before sending: {problem}", file=sys.stderr)
        raise SystemExit(2)

    async def push(services: Services) -> None:
        await services.api.create_menu(menu)

    from bot.wechat.api import WeChatAPIError

    try:
        run_with_services(settings, push)
    except WeChatAPIError as exc:
        print(f"healthbot: WeChat refused the menu: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print("menu created")


def cmd_standin(args: argparse.Namespace) -> None:
    from aiohttp import web

    from bot.devkit.standin import create_standin

    settings = settings_of(args)
    print(f"stand-in WeChat API on http://{args.host}:{args.port} for app_id {settings.wechat.app_id}", flush=True)
    web.run_app(create_standin(settings.wechat.app_id, settings.wechat.app_secret), host=args.host,
                port=args.port, print=None)


def add_commands(sub: Any) -> None:
    chat = command(sub, "chat", cmd_chat, "chat with a running bot from the terminal")
    chat.add_argument("--url", help="webhook URL (default: from the config, http://127.0.0.1:8080/wechat)")
    chat.add_argument("--user", default="o_dev_citizen_0001", help="the OpenID to chat as")
    chat.add_argument("--images", default="chat-images", help="folder for received images")
    keygen = command(sub, "keygen", cmd_keygen, "print fresh [security] keys for a new deployment", config=False)
    keygen.add_argument("--signing-key", action="store_true",
                        help="print only a new signing key, to rotate it (docs/operations.md)")
    menu = command(sub, "menu", cmd_menu, "show or push the menu from the config")
    menu.add_argument("action", choices=["show", "push"])
    standin = command(sub, "standin", cmd_standin, "run the stand-in WeChat API alone (staging, benchmarks)")
    standin.add_argument("--host", default="127.0.0.1")
    standin.add_argument("--port", type=whole(1, 65535), default=8090)
