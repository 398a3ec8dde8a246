"""The floor: the least a correct WeChat webhook does, written from the protocol alone, sharing no code with
healthbot. Check the signature in constant time, refuse what must be refused (no DTD, a size cap, a body
that is not a push), parse it, and answer a fixed text with CDATA split; in safe mode also check
msg_signature, decrypt and encrypt (AES-256-CBC through `cryptography`). healthbot's paths are measured as
ratios of this, on the same event loop, in the same run.

    python bench/floor.py --port 8300 [--aes-key KEY --app-id ID] [--token TOKEN]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import re
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable

from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BODY_LIMIT = 64 * 1024
REPLY = "回复以下关键词，或点击菜单「热门服务 → 疫情防控」"
DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)
ENCRYPT = re.compile(rb"<Encrypt>\s*<!\[CDATA\[([A-Za-z0-9+/=]{1,65536})\]\]>\s*</Encrypt>")
TEXT = ("<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{frm}]]></FromUserName>"
        "<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        "</xml>")
ENVELOPE = ("<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
            "<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>")
ALPHANUMERIC = bytes((b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")[i % 62] for i in range(256))


def signature(token: str, *parts: str) -> str:
    return hashlib.sha1("".join(sorted((token, *parts))).encode()).hexdigest()  # noqa: S324 - WeChat's


def cdata(text: str) -> str:
    return text.replace("]]>", "]]]]><![CDATA[>")


class Aes:
    """WeChat's envelope: AES-256-CBC, IV = key[:16], PKCS#7 to 32 bytes, random(16)|len|msg|appid."""

    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.cipher = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))
        self.app_id = app_id.encode()

    def decrypt(self, encrypt: bytes) -> bytes:
        decryptor = self.cipher.decryptor()
        plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= 32:
            raise ValueError("bad padding")
        plain = plain[:-pad]
        (length,) = struct.unpack(">I", plain[16:20])
        message, app_id = plain[20:20 + length], plain[20 + length:]
        if app_id != self.app_id:
            raise ValueError("another app id")
        return message

    def encrypt(self, message: bytes) -> str:
        body = os.urandom(16).translate(ALPHANUMERIC) + struct.pack(">I", len(message)) + message + self.app_id
        pad = 32 - len(body) % 32
        encryptor = self.cipher.encryptor()
        return base64.b64encode(encryptor.update(body + bytes([pad]) * pad) + encryptor.finalize()).decode()


Guard = Callable[[str], Awaitable[bool]]


def make_app(token: str, aes_key: str, app_id: str, guard: Guard | None = None) -> web.Application:
    """`guard`: for the stateful floor (bench/floor_stateful.py), whether a push is new (its retry guard);
    a retry is answered with an empty body, as WeChat allows."""
    aes = Aes(aes_key, app_id) if aes_key else None

    async def wechat(request: web.Request) -> web.Response:
        q = request.query
        ts, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not (0 < len(ts) <= 12 and ts.isascii() and ts.isdigit()) or abs(time.time() - int(ts)) > 300:
            raise web.HTTPForbidden()
        if aes is None and not hmac.compare_digest(q.get("signature", ""), signature(token, ts, nonce)):
            raise web.HTTPForbidden()
        body = await request.read()
        if len(body) > BODY_LIMIT:
            raise web.HTTPRequestEntityTooLarge(max_size=BODY_LIMIT, actual_size=len(body))
        if aes is not None:
            found = ENCRYPT.findall(body)
            if len(found) != 1:
                raise web.HTTPBadRequest()
            if not hmac.compare_digest(q.get("msg_signature", ""), signature(token, ts, nonce, found[0].decode())):
                raise web.HTTPForbidden()
            try:
                body = aes.decrypt(found[0])
            except (ValueError, struct.error):
                raise web.HTTPBadRequest() from None
        if DTD.search(body):
            raise web.HTTPBadRequest()
        try:
            root = ET.fromstring(body)  # noqa: S314 - no DTD can reach it (checked above)
        except ET.ParseError:
            raise web.HTTPBadRequest() from None
        push = {child.tag: child.text or "" for child in root}
        if root.tag != "xml" or len(push) != len(root) or not push.get("FromUserName") or not push.get("MsgType"):
            raise web.HTTPBadRequest()
        dedup_id = push.get("MsgId") or push["FromUserName"] + push.get("CreateTime", "")
        if guard is not None and not await guard(dedup_id):
            return web.Response(text="")
        reply = TEXT.format(to=cdata(push["FromUserName"]), frm=cdata(push.get("ToUserName", "")),
                            now=int(time.time()), content=cdata(REPLY))
        if aes is not None:
            encrypt = aes.encrypt(reply.encode())
            reply = ENVELOPE.format(encrypt=encrypt, signature=signature(token, ts, nonce, encrypt), timestamp=ts,
                                    nonce=nonce)
        return web.Response(text=reply, content_type="application/xml")

    app = web.Application(client_max_size=BODY_LIMIT)
    app.router.add_post("/wechat", wechat)
    return app


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--aes-key", default="")
    parser.add_argument("--app-id", default="wx2c2769f8efd9abc2")
    return parser


def use_uvloop() -> None:
    """The event loop healthbot serve runs on, so the ratio compares like with like."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass


def main() -> None:
    args = arguments(__doc__ or "").parse_args()
    use_uvloop()
    web.run_app(make_app(args.token, args.aes_key, args.app_id), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
