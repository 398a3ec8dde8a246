"""The floor: the least a correct webhook does. Check the signature, parse the XML, render a fixed text reply;
in safe mode also decrypt and encrypt. healthbot's paths are measured as ratios of this, in the same run.

    python bench/floor.py --port 8300 [--aes-key KEY --app-id ID] [--token TOKEN]
"""

from __future__ import annotations

import argparse
import time

from aiohttp import web

from bot.cli import use_uvloop
from bot.wechat.crypto import EnvelopeError, MessageCipher
from bot.wechat.inbound import BadPush, parse_inbound
from bot.wechat.replies import Text, render_reply
from bot.wechat.signing import signature_ok

REPLY = Text("回复以下关键词，或点击菜单「热门服务 → 疫情防控」")


def make_app(token: str, aes_key: str, app_id: str) -> web.Application:
    cipher = MessageCipher(token, aes_key, app_id) if aes_key else None

    async def wechat(request: web.Request) -> web.Response:
        q = request.query
        ts, nonce = q.get("timestamp", ""), q.get("nonce", "")
        body = await request.read()
        if cipher is not None:
            try:
                encrypt = cipher.extract_encrypt(body)
                if not cipher.verify(q.get("msg_signature"), ts, nonce, encrypt):
                    raise web.HTTPForbidden()
                body = cipher.decrypt(encrypt)
            except EnvelopeError:
                raise web.HTTPBadRequest() from None
        elif not signature_ok(q.get("signature"), token, ts, nonce):
            raise web.HTTPForbidden()
        try:
            message = parse_inbound(body)
        except BadPush:
            raise web.HTTPBadRequest() from None
        reply = render_reply(REPLY, message.openid, message.account, int(time.time()))
        if cipher is not None:
            reply = cipher.envelope(reply)
        return web.Response(text=reply, content_type="application/xml")

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/wechat", wechat)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--aes-key", default="")
    parser.add_argument("--app-id", default="wx2c2769f8efd9abc2")
    args = parser.parse_args()
    use_uvloop()  # the same event loop as healthbot serve, so the ratio compares like with like
    web.run_app(make_app(args.token, args.aes_key, args.app_id), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
