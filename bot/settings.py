"""The bot's settings, read once from the environment and checked with messages that help."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.escalate import Escalation, parse_escalation
from kb.learn.database import redact
from kb.learn.feedback import default_db_path

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_COMMAND = "/faq"
DEFAULT_PORT = 3000
# How often the bot looks for edited sources; a stat of each file, so cheap.
DEFAULT_REFRESH_SECONDS = 5.0

_TOKEN_PREFIXES = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-"}
_TOKEN_RE = re.compile(r"^[A-Za-z0-9-]+$")
_SECRET_RE = re.compile(r"^[0-9a-fA-F]{16,128}$")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment. Tokens are never shown in ``repr``."""

    bot_token: str
    signing_secret: str = ""
    app_token: str = ""
    api_url: str = DEFAULT_API_URL
    slash_command: str = DEFAULT_COMMAND
    port: int = DEFAULT_PORT
    feedback_db: str = ""
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS
    escalation: Escalation | None = None
    thread_followups: bool = True
    # Channel id → the source names questions there search (kb's ``--only``).
    channel_sources: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __repr__(self) -> str:
        return (
            f"Settings(api_url={self.api_url!r}, slash_command={self.slash_command!r}, "
            f"port={self.port}, feedback_db={redact(self.feedback_db)!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, socket: bool = False) -> Settings:
        """Read and check the settings for HTTP mode, or Socket Mode if ``socket``.

        Raises:
            SettingsError: a required token is missing or does not look like one.
        """
        env = os.environ if env is None else env
        bot_token = _token(env, "SLACK_BOT_TOKEN")
        if socket:
            app_token, secret = _token(env, "SLACK_APP_TOKEN"), env.get("SLACK_SIGNING_SECRET", "")
        else:
            app_token, secret = "", _secret(env)
        return cls(
            bot_token=bot_token,
            signing_secret=secret.strip(),
            app_token=app_token,
            api_url=api_url(env.get("SLACK_API_URL", "")),
            slash_command=_command(env.get("FAQ_SLASH_COMMAND", "")),
            port=_port(env.get("PORT", "")),
            # FAQ_DATABASE_URL: a path or postgresql://… (replicas); FAQ_FEEDBACK_DB: a path.
            feedback_db=env.get("FAQ_DATABASE_URL")
            or env.get("FAQ_FEEDBACK_DB")
            or default_db_path(),
            refresh_seconds=_seconds(env.get("FAQ_REFRESH_SECONDS", "")),
            escalation=_escalation(env.get("FAQ_ESCALATE_TO", "")),
            thread_followups=_flag(env, "FAQ_THREAD_FOLLOWUPS", default=True),
            channel_sources=channel_sources(env.get("FAQ_CHANNEL_SOURCES", "")),
        )


def _token(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    prefix = _TOKEN_PREFIXES[name]
    where = (
        "Basic Information › App-Level Tokens (scope connections:write)"
        if name == "SLACK_APP_TOKEN"
        else "OAuth & Permissions › Bot User OAuth Token"
    )
    if not value:
        raise SettingsError(f"{name} is not set; copy it from your Slack app's {where}")
    if not value.startswith(prefix):
        other = next((n for n, p in _TOKEN_PREFIXES.items() if value.startswith(p)), None)
        hint = f" (it looks like the {other})" if other else ""
        raise SettingsError(
            f"{name} does not look like a {prefix}… token{hint}; copy it from {where}"
        )
    if not _TOKEN_RE.match(value):
        raise SettingsError(
            f"{name} has characters a Slack token never has (quotes or spaces?); "
            f"copy it again from {where}"
        )
    return value


def _secret(env: Mapping[str, str]) -> str:
    value = env.get("SLACK_SIGNING_SECRET", "").strip()
    where = "your Slack app's Basic Information › App Credentials › Signing Secret"
    if not value:
        raise SettingsError(f"SLACK_SIGNING_SECRET is not set; copy it from {where}")
    if not _SECRET_RE.match(value):
        raise SettingsError(f"SLACK_SIGNING_SECRET is not a hex string; copy it from {where}")
    return value


def api_url(value: str) -> str:
    """Normalise SLACK_API_URL: default Slack's, and always ending in '/' (urljoin needs it).

    Raises:
        SettingsError: not an http(s) URL.
    """
    value = value.strip() or DEFAULT_API_URL
    if not re.match(r"^https?://[^/\s]+", value):
        raise SettingsError(f"SLACK_API_URL must be an http(s) URL, got {value!r}")
    return value if value.endswith("/") else value + "/"


def _command(value: str) -> str:
    value = value.strip() or DEFAULT_COMMAND
    if not re.match(r"^/[\w.-]{1,31}$", value):
        raise SettingsError(f"FAQ_SLASH_COMMAND must look like /faq, got {value!r}")
    return value.lower()


def _port(value: str) -> int:
    if not value.strip():
        return DEFAULT_PORT
    if not value.strip().isdigit() or not 0 <= int(value) < 65536:
        raise SettingsError(f"PORT must be a port number, got {value!r}")
    return int(value)


def _seconds(value: str) -> float:
    if not value.strip():
        return DEFAULT_REFRESH_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        raise SettingsError(f"FAQ_REFRESH_SECONDS must be a number, got {value!r}") from None
    return seconds


def _escalation(value: str) -> Escalation | None:
    try:
        return parse_escalation(value)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0, got {value!r}")


_BINDING_RE = re.compile(r"^([CG][A-Z0-9]{2,})=([A-Za-z0-9][A-Za-z0-9_.+-]*)$")


def channel_sources(value: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Read ``FAQ_CHANNEL_SOURCES``: ``C123=distributed,C456=cpython+sklearn``.

    Raises:
        SettingsError: a pair is not CHANNEL_ID=NAME[+NAME...].
    """
    bindings: dict[str, tuple[str, ...]] = {}
    for part in value.replace(";", ",").split(","):
        part = part.strip().replace(" ", "")
        if not part:
            continue
        match = _BINDING_RE.match(part)
        if not match:
            raise SettingsError(
                "FAQ_CHANNEL_SOURCES must be CHANNEL_ID=SOURCE[+SOURCE] pairs separated by "
                f"commas (e.g. C123=distributed,C456=cpython+sklearn), got {part!r}"
            )
        names = tuple(sorted({n for n in match.group(2).split("+") if n}))
        bindings[match.group(1)] = names
    return tuple(sorted(bindings.items()))
