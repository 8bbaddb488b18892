"""``faq-bot``: the FAQ in Slack, over HTTP (Bolt's WSGI adapter) or Socket Mode."""

from __future__ import annotations

import argparse
import logging
import os
import socketserver
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.error import URLError
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler

from bot.actions import Actions
from bot.answers import Answers
from bot.dedupe import EventLog
from bot.freshness import Refresher
from bot.gate import SlackGate
from bot.library import Library
from bot.listeners import Listeners, ack_other_events, register
from bot.ratelimit import CappedRateLimitRetryHandler, DeferredSends
from bot.settings import Settings, SettingsError
from bot.threads import ThreadLog
from kb.cli.main import semantic_requested
from kb.cli.parsers import add_semantic_option
from kb.cli.version import add_version_option
from kb.config import apply as apply_config
from kb.errors import FaqError
from kb.knowledge import KnowledgeBase
from kb.learn.database import DatabaseConfigError, open_database
from kb.learn.feedback import FeedbackStore
from kb.spec import SourceSpec

logger = logging.getLogger("faq-bot")

# Threads that run listeners after the ack. A rate-limit retry sleeps in one (3 s at
# most), so keep more than Bolt's default 5 for bursts (bench/bench_bot.py sends 20).
LISTENER_THREADS = 16
EVENTS_PATH = "/slack/events"


class StartupError(Exception):
    """The bot cannot start; the message says why and what to do (never a token)."""


def create_app(
    settings: Settings,
    kb: KnowledgeBase | Library,
    *,
    store: FeedbackStore | None = None,
    events: EventLog | None = None,
    threads: ThreadLog | None = None,
    verify_token: bool = True,
) -> App:
    """The Bolt app, its Web API client pointed at ``settings.api_url``.

    ``verify_token`` calls ``auth.test`` now, so a bad token fails at start, not at the
    first question. ``kb`` is one knowledge base (channel bindings from ``settings`` are
    added to it) or a ready ``Library``.

    Raises:
        BoltError: Slack rejected the bot token.
    """
    client = WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=[
            # A reset connection is tried again (backing off 0.5, 1, 2 s), not the reply lost.
            ConnectionErrorRetryHandler(max_retry_count=3),
            # ≤ 3 s waits in the listener thread; longer ones queued, so answering goes on.
            CappedRateLimitRetryHandler(DeferredSends(), max_retry_count=2),
        ],
    )
    app = App(
        client=client,
        logger=_bolt_logger(),
        signing_secret=settings.signing_secret,
        # Socket Mode requests are not signed; HTTP mode always has a secret (Settings).
        request_verification_enabled=bool(settings.signing_secret),
        token_verification_enabled=verify_token,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="faq-listener"),
    )
    library = kb if isinstance(kb, Library) else Library(kb, settings.channel_sources)
    command = settings.slash_command
    answers = Answers(library, store, escalation=settings.escalation, command=command)
    listeners = Listeners(answers, command, threads=threads, followups=settings.thread_followups)
    actions = Actions(answers, store, escalation=settings.escalation, command=command)
    register(app, listeners, actions, events or EventLog(":memory:"), command)
    if settings.app_token:  # Socket Mode
        ack_other_events(app)
    return app


class _NoTokenWarning(logging.Filter):
    """Drop Bolt's start-up warning that the client's token wins over SLACK_BOT_TOKEN.

    Bolt reads SLACK_BOT_TOKEN itself and warns when a client is passed too, which the bot
    always does (for SLACK_API_URL and retries): every normal start would log it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    bolt = logging.getLogger("faq-bot.bolt")
    if not any(isinstance(f, _NoTokenWarning) for f in bolt.filters):
        bolt.addFilter(_NoTokenWarning())
    return bolt


def bot_parser() -> argparse.ArgumentParser:
    """The ``faq-bot`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="faq-bot",
        description="Answer questions from the FAQ in Slack (HTTP mode unless --socket).",
        epilog="Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN "
        "(--socket), SLACK_API_URL, FAQ_SLASH_COMMAND, PORT, FAQ_DATABASE_URL, FAQ_FEEDBACK_DB, "
        "FAQ_INDEX, "
        "FAQ_REFRESH_SECONDS.",
    )
    add_version_option(parser)
    parser.add_argument("--socket", action="store_true", help="use Socket Mode (no public URL)")
    parser.add_argument("--port", type=int, help="HTTP port (default: env PORT or 3000)")
    parser.add_argument("--host", default="0.0.0.0", help="HTTP address (default 0.0.0.0)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--manifest", metavar="FILE", help="a sources.toml (default: shipped)")
    which.add_argument(
        "--source", action="append", default=[], metavar="PATH[=URL]", help="an rst source"
    )
    parser.add_argument("--index", metavar="DIR", help="index folder (default: env FAQ_INDEX)")
    parser.add_argument(
        "--feedback-db",
        "--database-url",
        metavar="PATH|URL",
        help="where answers, votes and handled event ids are kept: a SQLite file or a "
        "postgresql:// URL (default: env FAQ_DATABASE_URL, FAQ_FEEDBACK_DB)",
    )
    add_semantic_option(parser)
    return parser


class Bot:
    """A ready-to-serve bot: the app, its knowledge base and the refresher thread."""

    def __init__(self, app: App, kb: KnowledgeBase, settings: Settings, refresher: Refresher):
        self.app, self.kb, self.settings, self.refresher = app, kb, settings, refresher


def _semantic_installed() -> bool:
    """Whether the ``semantic`` extra and its model are here (nothing is loaded)."""
    from kb.search.semantic import check_available

    try:
        check_available()
    except FaqError:
        return False
    return True


def bootstrap(argv: Sequence[str] | None = None, *, socket: bool | None = None) -> Bot:
    """Read options and environment, open the FAQ, check the token, start the refresher.

    Raises:
        StartupError: a setting, the FAQ or the token is unusable.
    """
    args = bot_parser().parse_args(argv)
    use_socket = args.socket if socket is None else socket
    try:
        settings = Settings.from_env(socket=use_socket)
    except SettingsError as error:
        raise StartupError(str(error)) from None
    if args.port is not None:
        settings = replace(settings, port=args.port)
    if args.feedback_db:
        settings = replace(settings, feedback_db=args.feedback_db)
    try:
        apply_config(args)  # FAQ_MANIFEST, faq-kb.toml: the same FAQ as faq-search's
    except FaqError as error:
        raise StartupError(str(error)) from None
    spec = SourceSpec(paths=tuple(args.source)) if args.source else SourceSpec(args.manifest)
    try:
        if getattr(args, "semantic", None) is None and not os.environ.get("FAQ_SEMANTIC"):
            semantic = _semantic_installed()  # on by default wherever the extra is installed
        else:
            semantic = semantic_requested(args)
    except FaqError as error:
        raise StartupError(
            f"semantic ranking is asked for (FAQ_SEMANTIC or --semantic) but cannot run: {error}"
        ) from None
    try:
        db = open_database(settings.feedback_db)
        store, events = FeedbackStore(db), EventLog(db)
    except DatabaseConfigError as error:
        raise StartupError(f"the database (FAQ_DATABASE_URL / FAQ_FEEDBACK_DB): {error}") from None
    try:
        kb = KnowledgeBase(spec, args.index, preload=True, notify=logger.info, semantic=semantic)
        kb.open()
        library = Library(kb, settings.channel_sources)
        library.open()
        # Thread follow-ups live in a SQLite file; with PostgreSQL, per process.
        threads = ThreadLog(":memory:" if "://" in settings.feedback_db else settings.feedback_db)
    except FaqError as error:
        raise StartupError(f"cannot load the FAQ: {error}") from None
    except OSError as error:
        raise StartupError(f"cannot load the FAQ: {error.strerror}") from None
    try:
        app = create_app(settings, library, store=store, events=events, threads=threads)
    except BoltError:
        raise StartupError(
            "Slack rejected SLACK_BOT_TOKEN (auth.test failed); copy the Bot User OAuth "
            "Token again from your app's OAuth & Permissions page, and reinstall the app "
            "if its scopes changed"
        ) from None
    except (URLError, OSError) as error:
        raise StartupError(f"cannot reach Slack at {settings.api_url} ({error})") from None
    refresher = Refresher(kb, settings.refresh_seconds).start()
    for bound in library.bound():
        # Each channel binding has its own index (daemon threads: they end with the bot).
        Refresher(bound, settings.refresh_seconds).start()
    logger.info(
        "FAQ loaded: %d entries%s; feedback and event ids in %s",
        len(kb.reader),
        " (semantic ranking on)" if semantic else "",
        db.display,
    )
    return Bot(app, kb, settings, refresher)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections in a burst of events.
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


def http_server(app: App, host: str, port: int, *, signing_secret: str) -> WSGIServer:
    """A threaded WSGI server for ``app`` at ``/slack/events`` (port 0: any free port).

    Fine for one process; for production run ``bot.wsgi`` under gunicorn.
    """
    return make_server(
        host,
        port,
        SlackGate(app, signing_secret, EVENTS_PATH),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``faq-bot``."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = bot_parser().parse_args(argv)
    try:
        bot = bootstrap(argv)
    except StartupError as error:
        print(f"faq-bot: error: {error}", file=sys.stderr)
        sys.exit(2)
    if args.socket:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        logger.info("connecting to Slack in Socket Mode")
        handler = SocketModeHandler(bot.app, app_token=bot.settings.app_token)
        handler.start()  # type: ignore[no-untyped-call]
        return
    server = http_server(
        bot.app, args.host, bot.settings.port, signing_secret=bot.settings.signing_secret
    )
    logger.info("listening on http://%s:%d%s", args.host, server.server_port, EVENTS_PATH)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        bot.refresher.stop()
        server.server_close()
