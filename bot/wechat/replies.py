"""What a handler returns, and how it becomes reply XML that user text cannot restructure."""

from __future__ import annotations

from dataclasses import dataclass

SUCCESS = "success"


@dataclass(frozen=True, slots=True)
class Text:
    content: str


@dataclass(frozen=True, slots=True)
class Image:
    """A PNG to upload, or an already uploaded media_id. `fallback` is sent when delivery fails."""

    png: bytes | None = None
    media_id: str = ""
    fallback: str = ""


@dataclass(frozen=True, slots=True)
class News:
    title: str
    description: str
    pic_url: str
    url: str


Reply = Text | Image | News | None


def cdata(value: str) -> str:
    """Split every `]]>` so the text stays inside CDATA: user text can never close it and add elements."""
    return value.replace("]]>", "]]]]><![CDATA[>")


def _head(openid: str, account: str, now: int, msg_type: str) -> str:
    return (f"<xml><ToUserName><![CDATA[{cdata(openid)}]]></ToUserName><FromUserName><![CDATA[{cdata(account)}]]>"
            f"</FromUserName><CreateTime>{now}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>")


def render_reply(reply: Reply, openid: str, account: str, now: int) -> str:
    """The passive reply body (WeChat's documented layout), or `success` when there is nothing to say.
    f-strings, every value through `cdata`: far cheaper than wechatpy's reply classes or str.format."""
    if isinstance(reply, Text):
        return f"{_head(openid, account, now, 'text')}<Content><![CDATA[{cdata(reply.content)}]]></Content></xml>"
    if isinstance(reply, Image) and reply.media_id:
        return (f"{_head(openid, account, now, 'image')}<Image><MediaId><![CDATA[{cdata(reply.media_id)}]]>"
                "</MediaId></Image></xml>")
    if isinstance(reply, News):
        return (f"{_head(openid, account, now, 'news')}<ArticleCount>1</ArticleCount><Articles><item>"
                f"<Title><![CDATA[{cdata(reply.title)}]]></Title>"
                f"<Description><![CDATA[{cdata(reply.description)}]]></Description>"
                f"<PicUrl><![CDATA[{cdata(reply.pic_url)}]]></PicUrl><Url><![CDATA[{cdata(reply.url)}]]></Url>"
                "</item></Articles></xml>")
    return SUCCESS
