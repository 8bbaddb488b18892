"""The bot as a WSGI application, for gunicorn (production HTTP mode).

    gunicorn -w 2 --threads 8 -b 0.0.0.0:3000 'bot.wsgi:application'
    gunicorn -w 2 --threads 8 -b 0.0.0.0:3000 \
        "bot.wsgi:create_application('--source', 'faq.rst=https://example.com/faq.html')"

Each worker builds its own app (and checks the token) when gunicorn loads it; do not use
``--preload``, which would fork away the index-refresh thread.

A configuration error stops gunicorn: the worker exits with gunicorn's APP_LOAD_ERROR
status (4), on which the arbiter halts instead of booting workers again forever. Outside
gunicorn the exit status is 2, as for ``faq-bot``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from bot.entry import missing_slack

if TYPE_CHECKING:
    from bot.gate import SlackGate

# gunicorn.arbiter.Arbiter.APP_LOAD_ERROR: a worker exiting with it halts the arbiter.
GUNICORN_APP_LOAD_ERROR = 4

_application: SlackGate | None = None


def _fail(message: str) -> NoReturn:
    # One write of the whole line: gunicorn's workers share stderr and fail together.
    sys.stderr.flush()
    os.write(sys.stderr.fileno(), f"faq-bot: error: {message}\n".encode())
    under_gunicorn = "gunicorn.arbiter" in sys.modules
    raise SystemExit(GUNICORN_APP_LOAD_ERROR if under_gunicorn else 2)


def create_application(*argv: str) -> SlackGate:
    """Build the WSGI callable; ``argv`` takes ``faq-bot``'s source and index options."""
    problem = missing_slack()
    if problem:
        _fail(problem)
    from bot.app import EVENTS_PATH, StartupError, bootstrap
    from bot.gate import SlackGate

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        bot = bootstrap(list(argv), socket=False)
    except StartupError as error:
        _fail(str(error))
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
