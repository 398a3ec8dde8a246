"""The `healthbot` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.admin.imports import Admin, BadFile, BadRow, CsvImport, Imported, Row, parse_status_row
from bot.domain.colours import HEALTH_COLOURS
from bot.ops.config import STANDIN_PATH, ConfigError, Settings, load_settings, new_key

if TYPE_CHECKING:
    from bot.engine.services import Services

log = logging.getLogger("healthbot")
Result = TypeVar("Result")


def _settings(args: argparse.Namespace, **server: Any) -> Settings:
    from bot.rendering import FontMissing, find_cjk_font

    try:
        settings = load_settings(args.config, overrides={"server": server})
        find_cjk_font(settings.render.font)
        return settings
    except (ConfigError, FontMissing) as exc:
        print(f"healthbot: config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _check_redis(settings: Settings) -> None:
    if settings.redis.url.startswith("memory://"):
        return
    from storage import connect

    async def ping() -> None:
        client = connect(settings.redis.url)
        try:
            await asyncio.wait_for(client.ping(), timeout=2)
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except Exception as exc:
        print(f"healthbot: config error: redis.url: cannot reach {settings.redis.url} ({exc})", file=sys.stderr)
        raise SystemExit(2) from None


def setup_logging(settings: Settings) -> None:
    from bot.ops.logs import JsonFormatter

    handler = logging.StreamHandler()
    if settings.server.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def use_uvloop() -> bool:
    """uvloop where installed: the event loop is a third of the time spent per push (profiled)."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def banner(settings: Settings) -> str:
    url = settings.public_url
    lines = [f"healthbot listening on {url}/wechat  (config: {settings.source})"]
    mode = "safe mode (AES)" if settings.wechat.encrypted else "plaintext mode"
    lines.append(f"  message mode: {mode}; store: {settings.redis.url}; WeChat API: {settings.wechat.api_base}")
    if settings.dev_mode:
        lines += [
            "  DEV MODE: no config was given, so this runs with an in-memory store, the dev token",
            f"  '{settings.wechat.token}' and a stand-in WeChat API. Nothing is kept after exit; do not expose it.",
            f"  Keys and the store's address are in {settings.dev_dir}/: `healthbot admin …` and `healthbot verify`",
            "  run in this folder use them. Chat with the bot from another terminal:   healthbot chat",
        ]
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    from bot.app import build_app

    settings = _settings(args, host=args.host, port=args.port)
    _check_redis(settings)
    if args.workers > 1:
        if settings.dev_mode or settings.redis.url.startswith("memory://"):
            print("healthbot: config error: --workers needs a shared Redis (redis.url = redis://…); the embedded "
                  "store is per process", file=sys.stderr)
            raise SystemExit(2)
        print(banner(settings) + f"\n  {args.workers} worker processes on one port (SO_REUSEPORT)", flush=True)
        setup_logging(settings)
        raise SystemExit(supervise(args.workers))
    setup_logging(settings)
    if settings.dev_mode:
        from bot.devkit.devstore import serve_dev_store

        serve_dev_store(settings)
    if not args.reuse_port:
        print(banner(settings), flush=True)
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
    os.environ[MULTIPROC] = shared  # before prometheus_client is imported, here and in every worker
    from prometheus_client import multiprocess

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


def cmd_chat(args: argparse.Namespace) -> None:
    from bot.devkit.chat import run_chat

    settings = _settings(args)
    url = args.url or settings.public_url + "/wechat"
    if settings.dev_mode:  # the dev server carries its stand-in WeChat API beside /wechat
        settings.wechat.api_base = url.rsplit("/", 1)[0] + STANDIN_PATH
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_chat(settings, url, args.user, Path(args.images)))


def cmd_keygen(args: argparse.Namespace) -> None:
    kid = f"k{int(time.time())}"
    print(f"index_key = \"{new_key()}\"\ndata_key = \"{new_key()}\"\n"
          f"signing_keys = \"{kid}:{new_key()}\"\nactive_key_id = \"{kid}\"")


def menu_from_settings(settings: Settings) -> dict[str, Any]:
    menu = settings.menu
    if not menu.get("button"):
        print("healthbot: config error: [menu] has no buttons", file=sys.stderr)
        raise SystemExit(2)
    return {"button": menu["button"]}


def cmd_menu(args: argparse.Namespace) -> None:
    from bot.wechat.menu import validate_menu

    settings = _settings(args)
    menu = menu_from_settings(settings)
    problem = validate_menu(menu)
    if args.action == "show":
        print(json.dumps(menu, ensure_ascii=False, indent=2))
        if problem:
            print(f"WARNING: WeChat would refuse this menu: {problem}", file=sys.stderr)
        return
    if problem:
        print(f"healthbot: menu refused before sending: {problem}", file=sys.stderr)
        raise SystemExit(2)

    async def push() -> None:
        from bot.app import build_services

        services = build_services(settings)
        try:
            await services.api.create_menu(menu)
        finally:
            await services.close()

    from bot.wechat.api import WeChatAPIError

    try:
        _operate(push())
    except WeChatAPIError as exc:
        print(f"healthbot: WeChat refused the menu: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print("menu created")


def _admin_settings(args: argparse.Namespace) -> Settings:
    """The settings of an operator command; in dev mode, those of the running dev server's store."""
    settings = _settings(args)
    if settings.dev_mode:
        from bot.devkit.devstore import attach_dev_store

        try:
            attach_dev_store(settings)
        except ConfigError as exc:
            print(f"healthbot: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    _check_redis(settings)
    return settings


def _operate(work: Coroutine[Any, Any, Result]) -> Result:
    """An operator command's async part. Redis was reachable at the start (`_check_redis`); if it fails
    later, the operator gets one line, not a traceback."""
    from storage import RedisError

    try:
        return asyncio.run(work)
    except RedisError as exc:
        print(f"healthbot: Redis failed during the command ({exc}); what was written before that stays written, "
              "and what was not is not", file=sys.stderr)
        raise SystemExit(1) from None


def _run_admin(args: argparse.Namespace, work: Callable[[Admin, Settings], Awaitable[None]]) -> None:
    from storage import connect
    from storage.vault import Vault

    settings = _admin_settings(args)

    async def run() -> None:
        redis = connect(settings.redis.url)
        vault = Vault(settings.security.index_key_bytes(), settings.security.data_key_bytes())
        try:
            await work(Admin(redis, settings.redis.prefix, vault), settings)
        finally:
            await redis.aclose()

    _operate(run())


def _with_services(args: argparse.Namespace, work: Callable[[Services], Awaitable[int]]) -> None:
    """An operator command on the whole set of services (WeChat API, registries, templates); exits with
    what `work` returns."""
    from bot.app import build_services

    settings = _admin_settings(args)

    async def run() -> int:
        services = build_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    raise SystemExit(_operate(run()))


def _moment(text: str, what: str) -> float:
    from bot.domain.clock import parse_local

    try:
        return parse_local(text)
    except ValueError:
        print(f"healthbot: {what} must be YYYY-MM-DD[ HH:MM[:SS]], got {text!r}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_admin_venue(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        from bot.admin.venues import add_venue
        from bot.wechat.api import WeChatAPIError

        if args.action == "add":
            try:
                venue, poster = await add_venue(services, args.name.strip(), args.address.strip(), Path(args.out))
            except WeChatAPIError as exc:
                print(f"healthbot: WeChat refused the venue's QR code: {exc}", file=sys.stderr)
                return 1
            print(f"venue {venue.scene}  {venue.name}\nposter: {poster}")
            return 0
        if args.action == "disable":
            if not await services.venues.disable(args.scene):
                print(f"healthbot: no venue {args.scene}", file=sys.stderr)
                return 1
            print(f"disabled {args.scene}: its scans now get 「该场所码已停用」")
            return 0
        for venue in await services.venues.all():
            print(f"{venue.scene}  {'active  ' if venue.active else 'disabled'}  {venue.name}  {venue.address}")
        return 0

    _with_services(args, work)


def cmd_admin_trace(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        from bot.admin.trace import export, notify, shown
        from bot.domain.clock import to_second

        if args.action == "person":
            from bot.admin.imports import BadRow, document

            try:
                doc_type, number = document(args.doc_type, args.doc_no, services.clock.now().date())
            except BadRow as exc:
                print(f"healthbot: {exc}", file=sys.stderr)
                return 2
            now = services.clock.time()
            index = services.profiles.doc_index(doc_type, number)
            for scene, at in await services.venues.visits(index, now - args.days * 86400, now):
                venue = await services.venues.get(scene)
                print(f"{to_second(at)}  {venue.name if venue else '(deleted venue)'}  {scene}")
            return 0
        venue = await services.venues.get(args.venue)
        if venue is None:
            print(f"healthbot: no venue {args.venue}", file=sys.stderr)
            return 1
        start, end = _moment(args.start, "--from"), _moment(args.to, "--to")
        if start > end:
            print(f"healthbot: --from {args.start} is after --to {args.to}", file=sys.stderr)
            return 2
        if args.action == "notify":
            known = services.templates.env.list_templates(filter_func=lambda name: name.startswith("trace/"))
            if f"trace/{args.text_template}.txt" not in known:
                names = ", ".join(name.removeprefix("trace/").removesuffix(".txt") for name in known)
                print(f"healthbot: no --text-template {args.text_template!r}; there are: {names}", file=sys.stderr)
                return 2
        entries = await services.venues.entries(venue.scene, start, end, services.clock.time())
        if args.action == "notify":
            text = services.templates.render(f"trace/{args.text_template}.txt", venue=venue.name)
            done = await notify(services, entries, text)
            print(f"notified {done.sent} followers; {done.outside_window} not reachable (no message from them in "
                  f"48 h: reach them another way); {done.failed} failed")
            if done.stopped:
                print(f"healthbot: stopped early, {done.untold} not told: Redis failed ({done.stopped}); running "
                      "notify again tells the first ones twice", file=sys.stderr)
                return 1
            return 0
        for row in map(shown, entries):
            print(f"{row.at}  {row.name}  {row.document}  {row.whose}")
        print(f"{len(entries)} entries at {venue.name} ({venue.scene})")
        if args.export:
            if not args.reason.strip():
                print("healthbot: --export needs --reason (it is written to the audit stream)", file=sys.stderr)
                return 2
            try:
                await export(services, venue.scene, entries, Path(args.export), args.reason.strip())
            except OSError as exc:
                print(f"healthbot: cannot write {args.export}: {exc.strerror}; nothing exported", file=sys.stderr)
                return 1
            print(f"exported {len(entries)} full records to {args.export}; audited")
        return 0

    _with_services(args, work)


async def _import(what: str, csv_import: CsvImport[Row], admin: Admin, file: str) -> Imported[Row]:
    try:
        imported = await csv_import.run(admin.redis, Path(file), admin.clock.time())
    except BadFile as exc:
        print(f"healthbot: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    _report(what, imported)
    return imported


def _report(what: str, imported: Imported[Any]) -> None:
    skipped = f", {imported.skipped} older than 14 days skipped" if imported.skipped else ""
    print(f"imported {len(imported.stored)} {what}, {imported.bad} bad rows reported above{skipped}")


def cmd_admin_status(args: argparse.Namespace) -> None:
    async def work(admin: Admin, settings: Settings) -> None:
        if args.action == "set":
            try:
                row = parse_status_row(args.doc_type, args.doc_no, args.colour, args.reason or "", admin.today())
            except BadRow as exc:
                print(f"healthbot: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
            await admin.set_status(row)
            print(f"set {args.doc_type} {args.colour}")
        else:
            await _import("rows", admin.status_import(), admin, args.file)

    _run_admin(args, work)


def cmd_admin_travel(args: argparse.Namespace) -> None:
    async def work(admin: Admin, settings: Settings) -> None:
        await _import("travel records", admin.travel_import(), admin, args.file)

    _run_admin(args, work)


def cmd_admin_risk_cities(args: argparse.Namespace) -> None:
    async def work(admin: Admin, settings: Settings) -> None:
        if args.action == "set":
            await admin.travel.set_risk_cities([c.strip() for c in args.cities if c.strip()])
        cities = sorted(await admin.travel.risk_cities())
        print(f"{len(cities)} cities with medium- or high-risk areas: {'、'.join(cities) or '(none)'}")

    _run_admin(args, work)


def cmd_admin_results(args: argparse.Namespace) -> None:
    async def work(admin: Admin, settings: Settings) -> None:
        imported = await _import("results", admin.results_import(), admin, args.file)
        if colour := settings.results.positive_sets_colour:
            positives = sorted({index for index, result in imported.stored if result.result == "阳性"})
            for index in positives:
                await admin.set_colour_for_positive(index, colour, Path(args.file).name)
            print(f"set {len(positives)} codes {colour} for positive results ([results] positive_sets_colour); "
                  "audited")
        if settings.results.notify_new_results and imported.stored:
            from bot.admin.notify import notify_results
            from bot.app import build_services

            services = build_services(settings)
            try:
                sent = await notify_results(services, {index for index, _ in imported.stored})
            finally:
                await services.close()
            print(f"notified {sent} followers that results are out")

    _run_admin(args, work)


def token_from(text: str) -> str:
    """A token, a /verify URL, or a path to an image of an offline code."""
    from urllib.parse import parse_qs, urlsplit

    if Path(text).is_file():
        import zxingcpp
        from PIL import Image

        found = zxingcpp.read_barcodes(Image.open(text))
        if not found:
            print("healthbot: no QR code found in that image", file=sys.stderr)
            raise SystemExit(2)
        text = found[0].text
    if "?" in text:
        text = parse_qs(urlsplit(text).query).get("t", [""])[0]
    return text


def cmd_verify(args: argparse.Namespace) -> None:
    """The guard's answer first; the exit status is 0 only for a genuine, unexpired code that is green now
    (bot.usecases.holders.OUTCOMES lists the others). In dev mode it reads the running dev server's store."""
    settings = _admin_settings(args)
    token = token_from(args.token)

    async def check() -> dict[str, object]:
        from bot.app import build_services
        from bot.usecases.holders import check_offline

        services = build_services(settings)
        try:
            return (await check_offline(services, token)).report()
        finally:
            await services.close()

    report = _operate(check())
    from bot.ops.templates import Templates

    print(Templates(settings.paths.templates).render("cli/verify.txt", **report))
    raise SystemExit(int(report["exit_status"]))  # type: ignore[call-overload]


def cmd_admin_audit(args: argparse.Namespace) -> None:
    from bot.domain.clock import to_second
    from storage import Keys, connect
    from storage.audit import AuditLog

    settings = _settings(args)
    _check_redis(settings)

    async def show() -> None:
        redis = connect(settings.redis.url)
        try:
            entries = await AuditLog(redis, Keys(settings.redis.prefix)).latest(args.count)
        finally:
            await redis.aclose()
        for f in entries:
            reason = f"  reason: {f['reason']}" if f.get("reason") else ""
            print(f"{to_second(float(f['at']))}  {f['action']:<8} user {f['who'][:16]}  on {f['relative'][:24]}"
                  f"  ({f['stream_id']}){reason}")

    _operate(show())


def cmd_standin(args: argparse.Namespace) -> None:
    from aiohttp import web

    from bot.devkit.standin import create_standin

    settings = _settings(args)
    print(f"stand-in WeChat API on http://{args.host}:{args.port} for app_id {settings.wechat.app_id}", flush=True)
    web.run_app(create_standin(settings.wechat.app_id, settings.wechat.app_secret), host=args.host,
                port=args.port, print=None)


def _command(subparsers: Any, name: str, func: Callable[[argparse.Namespace], None], help_text: str,
             config: bool = True) -> argparse.ArgumentParser:
    """A subcommand; each takes --config after its name too (`healthbot serve --config x.toml`)."""
    command = subparsers.add_parser(name, help=help_text)
    if config:
        command.add_argument("--config", default=argparse.SUPPRESS)
    command.set_defaults(func=func)
    return command


def whole(low: int, high: int) -> Callable[[str], int]:
    """An option's type: a whole number from `low` to `high`. argparse turns the refusal into one line and
    exit status 2, where a negative --count was a traceback and --workers 10**20 would fork without end."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="healthbot", description=__doc__)
    root.add_argument("--config", help="TOML config file (default: $HEALTHBOT_CONFIG, else dev mode)")
    sub = root.add_subparsers(dest="command", required=True)

    serve = _command(sub, "serve", cmd_serve, "run the webhook server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=whole(1, 65535))
    serve.add_argument("--workers", type=whole(1, 256), default=1, help="processes sharing the port (SO_REUSEPORT)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    chat = _command(sub, "chat", cmd_chat, "chat with a running bot from the terminal")
    chat.add_argument("--url", help="webhook URL (default: from the config, http://127.0.0.1:8080/wechat)")
    chat.add_argument("--user", default="o_dev_citizen_0001", help="the OpenID to chat as")
    chat.add_argument("--images", default="chat-images", help="folder for received images")

    _command(sub, "keygen", cmd_keygen, "print fresh [security] keys", config=False)
    menu = _command(sub, "menu", cmd_menu, "show or push the menu from the config")
    menu.add_argument("action", choices=["show", "push"])
    standin = _command(sub, "standin", cmd_standin, "run the stand-in WeChat API alone (staging, benchmarks)")
    standin.add_argument("--host", default="127.0.0.1")
    standin.add_argument("--port", type=whole(1, 65535), default=8090)
    verify = _command(sub, "verify", cmd_verify, "check an offline code: a token, a /verify URL or an image file")
    verify.add_argument("token")

    admin = sub.add_parser("admin", help="operator commands (CLI only)").add_subparsers(dest="area", required=True)
    status = admin.add_parser("status", help="set or import health-code colours").add_subparsers(
        dest="action", required=True)
    status_set = _command(status, "set", cmd_admin_status, "set one person's colour")
    status_set.add_argument("--doc-type", required=True, help="resident_id, hk_mo_permit, tw_permit, …")
    status_set.add_argument("--doc-no", required=True)
    status_set.add_argument("colour", choices=HEALTH_COLOURS)
    status_set.add_argument("--reason", default="")
    _command(status, "import", cmd_admin_status, "import colours from CSV: doc_type,doc_no,colour,reason"
             ).add_argument("file")
    travel = admin.add_parser("travel", help="travel-card records").add_subparsers(dest="action", required=True)
    _command(travel, "import", cmd_admin_travel, "import from CSV: phone,city,date,overseas,colour"
             ).add_argument("file")
    risk = admin.add_parser("risk-cities", help="cities that now have medium- or high-risk areas (starred)"
                            ).add_subparsers(dest="action", required=True)
    _command(risk, "set", cmd_admin_risk_cities, "replace the list").add_argument("cities", nargs="*")
    _command(risk, "show", cmd_admin_risk_cities, "print the list")
    results = admin.add_parser("results", help="nucleic-acid test results").add_subparsers(
        dest="action", required=True)
    _command(results, "import", cmd_admin_results,
             "import from CSV: doc_type,doc_no,result,sampled_at,reported_at,institution").add_argument("file")
    audit = _command(admin, "audit", cmd_admin_audit, "show the audit stream: binds, unbinds, offline codes")
    audit.add_argument("--count", type=whole(1, 10_000), default=50)

    venue = admin.add_parser("venue", help="场所码: venues and their posters").add_subparsers(dest="action",
                                                                                          required=True)
    venue_add = _command(venue, "add", cmd_admin_venue, "create a venue's QR with WeChat and an A4 poster")
    venue_add.add_argument("name")
    venue_add.add_argument("--address", default="")
    venue_add.add_argument("--out", default="posters", help="folder for the poster PNG")
    _command(venue, "list", cmd_admin_venue, "list venues")
    _command(venue, "disable", cmd_admin_venue, "stop a venue's QR from registering").add_argument("scene")

    trace = admin.add_parser("trace", help="流调: entries at venues").add_subparsers(dest="action", required=True)
    trace_venue = _command(trace, "venue", cmd_admin_trace, "who entered a venue in a window (masked)")
    trace_notify = _command(trace, "notify", cmd_admin_trace, "send a notice to everyone who entered")
    for command in (trace_venue, trace_notify):
        command.add_argument("venue", help="the venue's scene, as `admin venue list` shows it")
        command.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD[ HH:MM[:SS]]")
        command.add_argument("--to", required=True, help="YYYY-MM-DD[ HH:MM[:SS]]")
    trace_venue.add_argument("--export", help="write the full records to this CSV file (needs --reason)")
    trace_venue.add_argument("--reason", default="", help="why the records are exported (audited)")
    trace_notify.add_argument("--text-template", required=True, help="a template in templates/trace/, e.g. exposure")
    person = _command(trace, "person", cmd_admin_trace, "the venues a person entered")
    person.add_argument("--doc-type", required=True)
    person.add_argument("--doc-no", required=True)
    person.add_argument("--days", type=whole(1, 3650), default=14)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
