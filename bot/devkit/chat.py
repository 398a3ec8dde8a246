"""`healthbot chat`: a terminal chat with a running bot, signed (and encrypted) exactly like WeChat."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
from pathlib import Path

import aiohttp

from bot.devkit.simulator import Simulator, parse_reply
from bot.domain.masking import mask_phone
from bot.ops.config import Settings

HELP = """Type a message and press Enter. Commands:
  /subscribe [SCENE]   follow the account (optionally by scanning a parameter QR code)
  /unsubscribe         unfollow
  /click KEY           click a menu button, e.g. /click HEALTH_CODE
  /scan SCENE          scan a parameter QR code while following
  /location LAT LNG    send a location
  /voice TEXT          send a voice message that WeChat recognised as TEXT
  /code                type the code of the last SMS the stand-in gateway received (a claim, the travel card)
  /wait SECONDS        pause (scripted sessions), while later messages and SMS keep arriving
  /quit                leave"""


class ChatSession:
    def __init__(self, settings: Settings, url: str, openid: str, images: Path) -> None:
        wechat = settings.wechat
        self.sim = Simulator(wechat.token, wechat.encoding_aes_key, wechat.app_id)
        self.url = url
        self.openid = openid
        self.api_base = wechat.api_base.rstrip("/")
        self.images = images
        self.seen_messages = 0
        self.seen_sms = 0
        self.seen_templates = 0

    def build(self, line: str) -> str | None:
        if not line.startswith("/"):
            return self.sim.text(self.openid, line)
        words = shlex.split(line[1:])
        command, args = (words[0].lower(), words[1:]) if words else ("", [])
        if command == "subscribe":
            return self.sim.event(self.openid, "subscribe", f"qrscene_{args[0]}" if args else "")
        if command == "unsubscribe":
            return self.sim.event(self.openid, "unsubscribe")
        if command == "click" and args:
            return self.sim.event(self.openid, "CLICK", args[0])
        if command == "scan" and args:
            return self.sim.event(self.openid, "SCAN", args[0], Ticket="simulated")
        if command == "voice" and args:
            return self.sim.voice(self.openid, line.split(None, 1)[1])
        if command == "location" and len(args) == 2:
            return self.sim.location(self.openid, float(args[0]), float(args[1]))
        print(HELP)
        return None

    async def send(self, http: aiohttp.ClientSession, xml: str) -> None:
        push = self.sim.sign(xml)
        async with http.post(self.url, params=push.params, data=push.body) as response:
            body = await response.text()
            if response.status != 200:
                print(f"[HTTP {response.status}] {body}")
                return
        await self.show(http, parse_reply(self.sim.open_reply(body)))

    async def show(self, http: aiohttp.ClientSession, reply: dict[str, object]) -> None:
        kind = reply.get("MsgType")
        if not reply:
            print("(no reply: success)")
        elif kind == "text":
            print(f"bot> {reply['Content']}")
        elif kind == "image":
            media = reply["Image"]["MediaId"]  # type: ignore[index]
            print(f"bot> [image] {await self.save_image(http, str(media))}")
        else:
            print(f"bot> [{kind}] {reply}")

    async def save_image(self, http: aiohttp.ClientSession, media_id: str) -> str:
        try:
            async with http.get(f"{self.api_base}/_standin/media/{media_id}") as response:
                if response.status != 200:
                    return f"media_id {media_id} (not on a stand-in API, cannot download)"
                content = await response.read()
        except aiohttp.ClientError:
            return f"media_id {media_id} (cannot reach {self.api_base})"
        self.images.mkdir(parents=True, exist_ok=True)
        path = self.images / f"{media_id[:16]}.png"
        path.write_bytes(content)
        return str(path)

    async def last_code(self, http: aiohttp.ClientSession) -> str:
        """The six digits of the last SMS the stand-in gateway received, or "" when there is none."""
        with contextlib.suppress(aiohttp.ClientError, ValueError):
            async with http.get(f"{self.api_base}/_standin/sms") as response:
                texts = [m["text"] for m in (await response.json())["sms"]] if response.status == 200 else []
                found = re.findall(r"\d{6}", texts[-1]) if texts else []
                return found[0] if found else ""
        return ""

    async def poll_later_messages(self, http: aiohttp.ClientSession) -> None:
        """Customer-service messages (replies that came after the 5 s window) from the stand-in."""
        while True:
            await asyncio.sleep(1.0)
            with contextlib.suppress(aiohttp.ClientError, ValueError):
                async with http.get(f"{self.api_base}/_standin/messages",
                                    params={"touser": self.openid, "since": str(self.seen_messages)}) as r:
                    if r.status != 200:
                        continue
                    data = await r.json()
                self.seen_messages = data["next"]
                async with http.get(f"{self.api_base}/_standin/sms", params={"since": str(self.seen_sms)}) as r:
                    sms = await r.json() if r.status == 200 else {"sms": [], "next": self.seen_sms}
                self.seen_sms = sms["next"]
                for text in sms["sms"]:
                    print(f"\n[短信 to {mask_phone(text['phone'])}] {text['text']}\nyou> ", end="", flush=True)
                async with http.get(f"{self.api_base}/_standin/templates",
                                    params={"touser": self.openid, "since": str(self.seen_templates)}) as r:
                    notices = await r.json() if r.status == 200 else {"templates": [], "next": self.seen_templates}
                self.seen_templates = notices["next"]
                for notice in notices["templates"]:
                    print(f"\n{template_shown(notice)}\nyou> ", end="", flush=True)
                for message in data["messages"]:
                    if message["msgtype"] == "text":
                        print(f"\nbot (later)> {message['text']['content']}\nyou> ", end="", flush=True)
                    elif message["msgtype"] == "image":
                        path = await self.save_image(http, message["image"]["media_id"])
                        print(f"\nbot (later)> [image] {path}\nyou> ", end="", flush=True)


def template_shown(notice: dict[str, object]) -> str:
    """A template message as a terminal shows it: its fields in order, then its link."""
    data = notice.get("data")
    fields = [f"  {key}: {value.get('value', '')}" for key, value in data.items() if isinstance(value, dict)] \
        if isinstance(data, dict) else []
    return "\n".join(["bot (notice)>", *fields, f"  link: {notice.get('url', '')}"])


async def run_chat(settings: Settings, url: str, openid: str, images: Path) -> None:
    session = ChatSession(settings, url, openid, images)
    print(f"Chatting with {url} as {openid}. /help for commands.")
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http:
        with contextlib.suppress(aiohttp.ClientError, ValueError):
            async with http.get(f"{session.api_base}/_standin/messages", params={"touser": openid}) as r:
                if r.status == 200:
                    session.seen_messages = (await r.json())["next"]
            async with http.get(f"{session.api_base}/_standin/sms") as r:
                if r.status == 200:
                    session.seen_sms = (await r.json())["next"]
            async with http.get(f"{session.api_base}/_standin/templates", params={"touser": openid}) as r:
                if r.status == 200:
                    session.seen_templates = (await r.json())["next"]
        poller = asyncio.ensure_future(session.poll_later_messages(http))
        try:
            while True:
                try:
                    line = (await loop.run_in_executor(None, input, "you> ")).strip()
                except EOFError:
                    break
                if line in ("/quit", "/exit"):
                    break
                if line.startswith("/wait"):
                    await asyncio.sleep(float([*line.split(), "1"][1]))
                    continue
                if line == "/code":
                    line = await session.last_code(http)
                    if not line:
                        print("no SMS has reached the stand-in gateway yet")
                        continue
                    print(f"(the code from the SMS: {line})")
                if not line:
                    continue
                xml = session.build(line)
                if xml is None:
                    continue
                try:
                    await session.send(http, xml)
                except aiohttp.ClientError as exc:
                    print(f"cannot reach {url}: {exc}. Is `healthbot serve` running?")
        finally:
            poller.cancel()
