"""Build pushes exactly as WeChat does (signed, and encrypted in safe mode) and read the replies.

Used by `healthbot chat`, the tests and the benchmarks, so all three speak the same protocol.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import xmltodict

from bot.wechat.crypto import MessageCipher
from bot.wechat.signing import signature_ok, wechat_signature

ACCOUNT = "gh_healthbot0001"
_msg_ids = itertools.count(int(time.time() * 1000) * 1000 + secrets.randbelow(1000))


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class SignedPush:
    params: dict[str, str]
    body: bytes


@dataclass
class Simulator:
    token: str
    encoding_aes_key: str = ""
    app_id: str = ""
    account: str = ACCOUNT
    cipher: MessageCipher | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.encoding_aes_key:
            self.cipher = MessageCipher(self.token, self.encoding_aes_key, self.app_id)

    @staticmethod
    def next_msg_id() -> int:
        return next(_msg_ids)

    def xml(self, openid: str, msg_type: str, fields: dict[str, str | int], create_time: int | None = None) -> str:
        parts = [
            f"<ToUserName>{_cdata(self.account)}</ToUserName>",
            f"<FromUserName>{_cdata(openid)}</FromUserName>",
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
            f"<MsgType>{_cdata(msg_type)}</MsgType>",
        ]
        for name, value in fields.items():
            parts.append(f"<{name}>{value}</{name}>" if isinstance(value, int) else f"<{name}>{_cdata(value)}</{name}>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, openid: str, content: str, msg_id: int | None = None) -> str:
        return self.xml(openid, "text", {"Content": content, "MsgId": msg_id or self.next_msg_id()})

    def event(self, openid: str, event: str, key: str = "", create_time: int | None = None,
              **extra: str) -> str:
        fields: dict[str, str | int] = {"Event": event}
        if key:
            fields["EventKey"] = key
        fields.update(extra)
        return self.xml(openid, "event", fields, create_time)

    def voice(self, openid: str, recognition: str) -> str:
        """A voice message with 语音识别 on: WeChat's transcript in Recognition."""
        return self.xml(openid, "voice", {"MediaId": "simulated-voice", "Format": "amr",
                                          "Recognition": recognition, "MsgId": self.next_msg_id()})

    def image(self, openid: str, media_id: str, pic_url: str = "http://mmbiz.qpic.cn/simulated") -> str:
        return self.xml(openid, "image", {"PicUrl": pic_url, "MediaId": media_id, "MsgId": self.next_msg_id()})

    def location_select(self, openid: str, lat: float, lng: float, key: str = "NEAREST_SITES") -> str:
        """The menu's location picker (location_select): the chosen place nested in SendLocationInfo."""
        flat = self.event(openid, "location_select", key)
        picked = (f"<SendLocationInfo><Location_X>{lat}</Location_X><Location_Y>{lng}</Location_Y>"
                  f"<Scale>15</Scale><Label>{_cdata('位置')}</Label><Poiname>{_cdata('')}</Poiname>"
                  "</SendLocationInfo>")
        return flat.replace("</xml>", picked + "</xml>")

    def location(self, openid: str, lat: float, lng: float) -> str:
        return self.xml(openid, "location", {
            "Location_X": str(lat), "Location_Y": str(lng), "Scale": "15", "Label": escape("位置"),
            "MsgId": self.next_msg_id()})

    def sign(self, xml: str, timestamp: str | None = None, nonce: str | None = None) -> SignedPush:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        params = {"timestamp": timestamp, "nonce": nonce,
                  "signature": wechat_signature(self.token, timestamp, nonce)}
        if self.cipher is None:
            return SignedPush(params, xml.encode())
        encrypt = self.cipher.encrypt(xml)
        params.update(encrypt_type="aes", msg_signature=wechat_signature(self.token, timestamp, nonce, encrypt))
        body = f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
        return SignedPush(params, body.encode())

    def open_reply(self, body: str) -> str:
        """The plain reply XML (decrypted and signature-checked in safe mode), or `success`."""
        if self.cipher is None or body == "success" or not body:
            return body
        envelope = xmltodict.parse(body)["xml"]
        encrypt = envelope["Encrypt"]
        if not signature_ok(envelope["MsgSignature"], self.token, envelope["TimeStamp"], envelope["Nonce"], encrypt):
            raise ValueError("reply signature does not verify")
        return self.cipher.decrypt(encrypt).decode()


def parse_reply(xml: str) -> dict[str, Any]:
    """The reply as a dict ({} for `success`); raises if the XML is malformed."""
    if xml in ("success", ""):
        return {}
    return dict(xmltodict.parse(xml)["xml"])
