"""The custom menu's limits as WeChat enforces them (docs/wechat.md), checked before a menu is pushed."""

from __future__ import annotations

from typing import Any

MENU_TOP_NAME_BYTES = 16
MENU_SUB_NAME_BYTES = 60
MENU_KEY_BYTES = 128


def validate_menu(menu: dict[str, Any]) -> str | None:
    """WeChat's limits: 1–3 top-level buttons, 1–5 sub-buttons each, name and key byte lengths."""
    buttons = menu.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return "40016 invalid button size"
    for top in buttons:
        if len(str(top.get("name", "")).encode()) > MENU_TOP_NAME_BYTES or not top.get("name"):
            return "40018 invalid button name size"
        subs = top.get("sub_button")
        items = subs if subs else [top]
        if subs is not None and not 1 <= len(subs) <= 5:
            return "40023 invalid sub button size"
        for item in items:
            if item is not top and (len(str(item.get("name", "")).encode()) > MENU_SUB_NAME_BYTES
                                    or not item.get("name")):
                return "40018 invalid button name size"
            kind = item.get("type")
            if kind not in {"click", "view", "scancode_push", "scancode_waitmsg", "miniprogram",
                            "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select"}:
                return "40017 invalid button type"
            if kind == "click" and not 0 < len(str(item.get("key", "")).encode()) <= MENU_KEY_BYTES:
                return "40019 invalid button key size"
            if kind == "view" and not item.get("url"):
                return "40020 invalid button url size"
    return None
