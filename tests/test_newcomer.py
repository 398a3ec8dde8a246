"""What a newcomer does on a fresh machine: `healthbot serve` with no config, then `healthbot chat`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import zxingcpp
from PIL import Image

from tests.helpers import free_port, wait_until_up


def test_dev_mode_serve_and_chat_show_the_code_image(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHBOT_")}
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        assert server.stdout is not None
        banner = ""
        for _ in range(10):  # the banner, up to the line that says how to chat
            banner += server.stdout.readline()
            if "healthbot chat" in banner:
                break
        assert "DEV MODE" in banner and "healthbot chat" in banner and "in-memory store" in banner
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        script = ("/subscribe\n防疫健康信息码\n同意\n张小三\n11010519491231002X\n13800001234\n/code\n确认\n"
                  "行程码\n1\n同意并授权\n/wait 2.5\n/quit\n")
        chat = subprocess.run(
            [sys.executable, "-m", "bot.cli", "chat", "--url", f"http://127.0.0.1:{port}/wechat",
             "--images", str(tmp_path / "images")],
            input=script, capture_output=True, text=True, timeout=30, env=env, check=False)
        assert "欢迎关注" in chat.stdout and "138****1234" in chat.stdout
        images = list((tmp_path / "images").glob("*.png"))
        assert len(images) == 1 and f"[image] {images[0]}" in chat.stdout
        assert "/c/" in zxingcpp.read_barcodes(Image.open(images[0]))[0].text
        assert "暂无行程数据" in chat.stdout  # the travel card, asked for right after the claim
        assert "[短信 to 138****1234] 【防疫健康信息码】您的验证码为" in chat.stdout  # the claim proves the phone
        assert "【行程卡】" not in chat.stdout  # and the claimed phone's card then needs no second code
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=15)
    assert "DEV MODE SMS to 138****1234" in log


def test_chat_and_admin_find_a_dev_server_on_another_port_and_chat_sends_voice(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHBOT_")}
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        for _ in range(50):  # the server writes where it listens once it is up
            if (tmp_path / ".healthbot-dev" / "server.toml").exists():
                break
            time.sleep(0.1)
        chat = subprocess.run([sys.executable, "-m", "bot.cli", "chat"], input="/voice 帮助\n/quit\n",
                              capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path, check=False)
        assert "回复以下关键词" in chat.stdout, chat.stdout + chat.stderr  # no --url: the server's own port
        venue = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "venue", "add", "国贸商城", "--address",
                                "建国门外大街1号", "--out", str(tmp_path / "posters")],
                               capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path, check=False)
        assert venue.returncode == 0 and "poster:" in venue.stdout, venue.stdout + venue.stderr
        # A claim and a child's binding in the chat; `admin audit` then reads the dev server's own store.
        script = ("防疫健康信息码\n同意\n张小三\n11010519491231002X\n13800001234\n/code\n确认\n"
                  "添加亲属\n张小宝\n110101202201010014\n3\n确认绑定\n同意协议并认证\n确认承诺\n/quit\n")
        subprocess.run([sys.executable, "-m", "bot.cli", "chat"], input=script, capture_output=True, text=True,
                       timeout=30, env=env, cwd=tmp_path, check=False)
        audit = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "audit"], capture_output=True, text=True,
                               timeout=30, env=env, cwd=tmp_path, check=False)
        assert audit.returncode == 0 and " bind " in audit.stdout, audit.stdout + audit.stderr
        # The child's code turned red while the chat is open: the notice arrives in it.
        watching = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        time.sleep(1.5)
        red = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "status", "set", "--doc-type", "resident_id",
                              "--doc-no", "110101202201010014", "red", "--reason-code", "contact"],
                             capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path, check=False)
        assert red.returncode == 0, red.stdout + red.stderr
        shown, _ = watching.communicate("/wait 3\n/quit\n", timeout=30)
        assert "【健康码变更】您的亲属（子女 张*宝）的健康码已由绿码变为红码" in shown, shown
        assert "密切接触者" in shown and "申诉 1" in shown
    finally:
        server.terminate()
        server.communicate(timeout=15)
