"""`healthbot serve`: the webhook server, one process or several sharing the port under a supervisor."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import time
from typing import Any

from bot.cli.common import check_redis, command, settings_of, setup_logging, whole
from bot.ops.config import Settings, redacted, unnamed_standins

log = logging.getLogger("healthbot")


def use_uvloop() -> bool:
    """uvloop where installed: the event loop is a third of the time spent per push (profiled)."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def metrics_where(settings: Settings) -> str:
    """Where this server's metrics are, for the start banner."""
    if settings.server.metrics_address:
        return f"metrics: http://{settings.server.metrics_address}/metrics"
    if settings.server.metrics_token:
        return "metrics: /metrics with Authorization: Bearer <[server] metrics_token>"
    if settings.dev_mode:
        return "metrics: /metrics (dev mode)"
    return "metrics: not served; set [server] metrics_token or metrics_address"


def banner(settings: Settings) -> str:
    server = settings.server
    lines = [f"healthbot listening on {server.host}:{server.port}; WeChat pushes to {settings.public_url}/wechat"
             f"  (config: {settings.source})"]
    mode = "safe mode (AES)" if settings.wechat.encrypted else "plaintext mode"
    store = redacted(settings.redis.url)
    lines.append(f"  message mode: {mode}; store: {store}; WeChat API: {settings.wechat.api_base}")
    lines.append(f"  {metrics_where(settings)}")
    if settings.dev_mode:
        lines += [
            "  DEV MODE: no config was given, so this runs with an in-memory store, the dev token",
            f"  '{settings.wechat.token}' and a stand-in WeChat API. Nothing is kept after exit; do not expose it.",
            f"  Keys and the store's address are in {settings.dev_dir}/: `healthbot admin …` and `healthbot verify`",
            "  run in this folder use them. Chat with the bot from another terminal:   healthbot chat",
        ]
    return "\n".join(lines)


def port_must_be_free(host: str, port: int) -> None:
    """One line and status 2 when something listens on the port already. SO_REUSEPORT would let a second
    `serve --workers` share it unnoticed, each getting a part of WeChat's pushes; a plain bind cannot."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server: TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            print(f"healthbot: cannot serve on {host}:{port}: {exc.strerror} (another healthbot serving there?)",
                  file=sys.stderr)
            raise SystemExit(2) from None


def announce(settings: Settings, text: str) -> None:
    """The start banner: printed, or one log record a line under `log_format = "json"` (a log collector then
    reads it as it reads everything else)."""
    if settings.server.log_format == "json":
        for line in text.splitlines():
            log.info("%s", line.strip())
    else:
        print(text, flush=True)


def cmd_serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    from bot.app import build_app

    settings = settings_of(args, host=args.host, port=args.port)
    if refused := unnamed_standins(settings):
        for line in refused:
            print(f"healthbot: config error: {line}", file=sys.stderr)
        raise SystemExit(2)
    check_redis(settings)
    if not args.reuse_port:  # a worker of ours shares the port on purpose; anything else must find it free
        port_must_be_free(settings.server.host, settings.server.port)
    if args.workers > 1:
        if settings.dev_mode or settings.redis.url.startswith("memory://"):
            print("healthbot: config error: --workers needs a shared Redis (redis.url = redis://…); the embedded "
                  "store is per process", file=sys.stderr)
            raise SystemExit(2)
        setup_logging(settings)
        announce(settings, banner(settings) + f"\n  {args.workers} worker processes on one port (SO_REUSEPORT)")
        raise SystemExit(supervise(args.workers))
    setup_logging(settings)
    if settings.dev_mode:
        from bot.devkit.devstore import serve_dev_store

        serve_dev_store(settings)
    if not args.reuse_port:
        announce(settings, banner(settings))
    use_uvloop()
    app = build_app(settings)
    app.on_startup.append(settle_heap)
    web.run_app(app, host=settings.server.host, port=settings.server.port, print=None,
                shutdown_timeout=10, reuse_port=args.reuse_port or None)


async def settle_heap(_app: object) -> None:
    """Exempt what startup built from the garbage collector, and collect the young generation less often.

    Measured: with ~70,000 objects from imports, templates and wechatpy, every full collection paused the
    loop for 40-60 ms, a p99 spike for the 32 pushes in flight; frozen, a full collection takes under 1 ms.
    A push makes a few hundred short-lived objects, so a young generation of 10,000 is a handful of pushes."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def supervise(workers: int) -> int:
    """Keep `workers` processes (this command again, sharing the port) alive until SIGTERM or SIGINT, which
    is forwarded so each drains. A worker that exits or is killed is started again at once and logged; one
    that keeps dying young waits longer each time (up to 30 s), so a broken config cannot spin the CPU.
    The workers share a metrics directory (prometheus_client's multiprocess mode): one scrape sums them all."""
    import shutil
    import signal
    import subprocess
    import tempfile

    from bot.ops.metrics import MULTIPROC

    shared = tempfile.mkdtemp(prefix="healthbot-metrics-")
    os.environ[MULTIPROC] = shared  # inherited by every worker, which imports prometheus_client after it
    from prometheus_client import multiprocess, values

    # This process imported prometheus_client before (with bot.app), when its values were in-memory ones: the
    # replacements it counts would reach no scrape. Values made from now on are files in the shared directory.
    values.ValueClass = values.get_value_class()

    from bot.ops.metrics import Metrics

    replaced = Metrics()
    argv, skip = [sys.executable, "-m", "bot.cli"], False
    for arg in sys.argv[1:]:  # this command again, without --workers N / --workers=N
        if skip or arg.startswith("--workers="):
            skip = False
            continue
        skip = arg == "--workers"
        if not skip:
            argv.append(arg)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([*argv, "--reuse-port"])  # noqa: S603 - our own command line

    children = [start() for _ in range(workers)]
    started = [time.monotonic()] * workers
    young_deaths, restart_at = [0] * workers, [0.0] * workers
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        while True:
            now = time.monotonic()
            for slot, child in enumerate(children):
                if child.poll() is None or stopping:
                    continue
                if not restart_at[slot]:
                    multiprocess.mark_process_dead(child.pid)
                    young_deaths[slot] = young_deaths[slot] + 1 if now - started[slot] < 10 else 0
                    delay = 0.0 if young_deaths[slot] <= 1 else min(30.0, 0.5 * 2 ** young_deaths[slot])
                    restart_at[slot] = now + delay
                    log.warning("worker pid %d exited (%s); starting another in %.1f s", child.pid,
                                child.returncode, delay)
                if now >= restart_at[slot]:
                    children[slot], started[slot], restart_at[slot] = start(), now, 0.0
                    replaced.inc("healthbot_worker_replacements_total")
                    log.warning("worker replaced: pid %d", children[slot].pid)
            if stopping and all(child.poll() is not None for child in children):
                break
            time.sleep(0.1)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    return max((child.returncode or 0 for child in children), default=0)


def add_commands(sub: Any) -> None:
    serve = command(sub, "serve", cmd_serve, "run the webhook server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=whole(1, 65535))
    serve.add_argument("--workers", type=whole(1, 256), default=1, help="processes sharing the port (SO_REUSEPORT)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
