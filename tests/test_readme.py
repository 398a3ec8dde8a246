"""The README's "Try it", run line by line as a newcomer would: what it says the bot answers, and what it says
each command prints and exits with, must be what happens.

The two install lines (apt-get, venv + pip) are what `.ci/run` has already done on this machine; every other
line runs as written, in a scratch folder whose `.venv` is this checkout's.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.helpers import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ("sudo apt-get install", "python3 -m venv")


def try_it() -> list[tuple[str, list[str]]]:
    """The fenced blocks of the README's "Try it" section: (language, lines)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return [(lang, body.strip("\n").splitlines()) for lang, body in re.findall(r"```(\w*)\n(.*?)```", section, re.S)]


def expected_bot_texts(transcript: list[str]) -> list[str]:
    """What each `bot>` line promises: its text up to the first 「…」 (the README elides the rest)."""
    return [line.removeprefix("bot> ").split("…", 1)[0].strip() for line in transcript if line.startswith("bot> ")]


def test_the_readme_has_the_journey_this_test_runs() -> None:
    blocks = try_it()
    assert [lang for lang, _ in blocks] == ["sh", "", "sh"]
    assert [line.split("  #")[0].strip() for line in blocks[0][1]][2] == ".venv/bin/healthbot serve"


def test_a_newcomer_following_the_readme_gets_what_it_says(tmp_path: Path) -> None:
    (setup, chat_block, operator) = [lines for _, lines in try_it()]
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHBOT_")}
    env["HEALTHBOT_SERVER_PORT"] = str(port)  # the README's default port may be taken on this machine

    commands = [line.split("  #")[0].strip() for line in setup]
    assert all(c.startswith(INSTALL) for c in commands[:2])
    server = subprocess.Popen(commands[2], shell=True, cwd=tmp_path, env=env, stdout=subprocess.PIPE,  # noqa: S602
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        said = [line.removeprefix("you> ") for line in chat_block if line.startswith("you> ")]
        chat = subprocess.run(".venv/bin/healthbot chat", shell=True, cwd=tmp_path, env=env,  # noqa: S602
                              input="\n".join([*said, "/quit"]) + "\n", capture_output=True, text=True, timeout=60,
                              check=False)
        promises = expected_bot_texts(chat_block)
        assert len(promises) > 10
        for promise in promises:
            if promise.startswith("[image] chat-images/"):
                promise = "[image] chat-images/"
            assert promise in chat.stdout, f"the README promises {promise!r}; chat printed:\n{chat.stdout}"
        images = re.findall(r"\[image\] (chat-images/\S+\.png)", chat.stdout)
        assert len(images) == 3, chat.stdout
        offline = images[-1]  # 下载离线码 1

        assert operator
        for line in operator:
            command, _, comment = line.partition("  #")
            command = command.strip().replace("chat-images/….png", offline)
            done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,  # noqa: S602
                                  text=True, timeout=60, check=False)
            promise = re.match(r"\s*(.*?) \(exit (\d+)\)\s*$", comment)
            if promise is None:
                assert done.returncode == 0, done.stderr
                continue
            first_line, code = promise.group(1), int(promise.group(2))
            assert done.stdout.splitlines()[0] == first_line and done.returncode == code, (line, done)
    finally:
        os.killpg(server.pid, 15)
        server.communicate(timeout=15)
    assert not (tmp_path / ".healthbot-dev" / "server.toml").exists()  # the server said where its store was
