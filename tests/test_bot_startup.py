"""Start-up: the new settings, a quiet normal start, a missing slack extra, and gunicorn
stopping (not restarting workers forever) on a configuration error."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.escalate import Escalation
from bot.settings import Settings, SettingsError
from tests.slack_fakes import BOT_TOKEN, SIGNING_SECRET, FakeSlack

pytest_plugins = ["tests.conftest_bot"]
ROOT = Path(__file__).resolve().parent.parent
GOOD = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
INSTALL = "pip install 'faq-kb[slack]'"


def test_new_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            **GOOD,
            "FAQ_ESCALATE_TO": "<!subteam^S0HELP|@helpers>",
            "FAQ_THREAD_FOLLOWUPS": "0",
            "FAQ_CHANNEL_SOURCES": "C123=distributed, C456=cpython+sklearn",
        }
    )
    assert settings.escalation == Escalation(mention="<!subteam^S0HELP>")
    assert settings.thread_followups is False
    assert settings.channel_sources == (
        ("C123", ("distributed",)),
        ("C456", ("cpython", "sklearn")),
    )
    defaults = Settings.from_env(GOOD)
    assert (defaults.escalation, defaults.thread_followups, defaults.channel_sources) == (
        None,
        True,
        (),
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FAQ_ESCALATE_TO", "@helpers", "FAQ_ESCALATE_TO must be a user group"),
        ("FAQ_THREAD_FOLLOWUPS", "maybe", "FAQ_THREAD_FOLLOWUPS must be 1 or 0"),
        ("FAQ_CHANNEL_SOURCES", "general=distributed", "CHANNEL_ID=SOURCE"),
    ],
)
def test_bad_new_settings_say_which(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({**GOOD, name: value})


def test_a_normal_start_logs_no_warning(
    fake_slack: FakeSlack,
    source_arg: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.app import bootstrap

    for name, value in {
        **GOOD,
        "SLACK_API_URL": fake_slack.api_url,
        "FAQ_REFRESH_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    args = ["--source", source_arg, "--index", str(tmp_path / "i")]
    bootstrap([*args, "--feedback-db", str(tmp_path / "fb.sqlite3")]).refresher.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("FAQ loaded" in r.getMessage() for r in caplog.records)


BLOCK_SLACK = "import sys; sys.modules['slack_bolt'] = None; "


@pytest.mark.parametrize(
    "code",
    [
        BLOCK_SLACK + "sys.argv = ['faq-bot']; from bot.entry import main; main()",
        BLOCK_SLACK + "import bot.wsgi; bot.wsgi.application",
    ],
    ids=["faq-bot", "bot.wsgi"],
)
def test_without_the_slack_extra_one_line_says_what_to_install(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"faq-bot: error: the Slack bot needs the slack extra (slack_bolt is not installed): "
        f"{INSTALL}"
    ]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_gunicorn_stops_on_a_configuration_error(tmp_path: Path, workers: int) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("SLACK_", "FAQ_")) and not k.upper().endswith("_PROXY")
    }
    env.update(SLACK_SIGNING_SECRET=SIGNING_SECRET, FAQ_INDEX=str(tmp_path / "i"))
    # No control socket: it lives in the home folder, shared with any other gunicorn.
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", "127.0.0.1:0"]
    command += ["--no-control-socket", "--graceful-timeout", "5"]
    try:
        done = subprocess.run(
            [*command, "bot.wsgi:application"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    except subprocess.TimeoutExpired as expired:  # it kept booting workers
        raise AssertionError(f"gunicorn did not stop:\n{expired.stderr!r}") from None
    if workers == 1:
        assert done.returncode == 4, done.stderr  # gunicorn's "App failed to load."
    else:
        # Both workers can fail before the arbiter reaps the first; gunicorn 27 then
        # halts with a traceback of its own (status 1) instead of 4. Either way it stops.
        assert done.returncode in (1, 4), done.stderr
    errors = [line for line in done.stderr.splitlines() if "faq-bot: error:" in line]
    assert 1 <= len(errors) <= 2, done.stderr  # one a worker at most, never a loop
    assert {line[line.index("faq-bot: error:") :] for line in errors} == {
        "faq-bot: error: SLACK_BOT_TOKEN is not set; copy it from your Slack app's "
        "OAuth & Permissions › Bot User OAuth Token"
    }
    assert "App failed to load." in done.stderr
