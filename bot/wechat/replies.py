"""What a handler returns, and how it becomes reply XML that user text cannot restructure."""

from __future__ import annotations

from dataclasses import dataclass

from wechatpy.replies import ArticlesReply, ImageReply, TextReply

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
    """Split every `]]>` so the text stays inside CDATA (wechatpy writes CDATA unescaped)."""
    return value.replace("]]>", "]]]]><![CDATA[>")


def render_reply(reply: Reply, openid: str, account: str, now: int) -> str:
    """The passive reply body: XML, or `success` when there is nothing to say."""
    common = {"source": cdata(account), "target": cdata(openid), "time": now}
    if isinstance(reply, Text):
        return TextReply(content=cdata(reply.content), **common).render()
    if isinstance(reply, Image) and reply.media_id:
        return ImageReply(media_id=cdata(reply.media_id), **common).render()
    if isinstance(reply, News):
        article = {
            "title": cdata(reply.title),
            "description": cdata(reply.description),
            "image": cdata(reply.pic_url),
            "url": cdata(reply.url),
        }
        return ArticlesReply(articles=[article], **common).render()
    return SUCCESS
