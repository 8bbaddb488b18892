"""The bot as a WSGI application, for gunicorn (production HTTP mode).

    gunicorn -w 2 --threads 8 -b 0.0.0.0:3000 'bot.wsgi:application'
    gunicorn -w 2 --threads 8 -b 0.0.0.0:3000 \
        "bot.wsgi:create_application('--source', 'faq.rst=https://example.com/faq.html')"

Each worker builds its own app (and checks the token) when gunicorn loads it; do not use
``--preload``, which would fork away the index-refresh thread.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from bot.app import EVENTS_PATH, StartupError, bootstrap
from bot.gate import SlackGate

_application: SlackGate | None = None


def create_application(*argv: str) -> SlackGate:
    """Build the WSGI callable; ``argv`` takes ``faq-bot``'s source and index options."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        bot = bootstrap(list(argv), socket=False)
    except StartupError as error:
        print(f"faq-bot: error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    return SlackGate(bot.app, bot.settings.signing_secret, EVENTS_PATH)


def __getattr__(name: str) -> Any:
    # ``bot.wsgi:application`` builds the app on first access (gunicorn's worker load),
    # not at import, so importing this module has no side effects.
    global _application
    if name == "application":
        if _application is None:
            _application = create_application()
        return _application
    raise AttributeError(name)
