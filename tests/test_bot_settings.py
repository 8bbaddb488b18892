"""Start-up: settings from the environment, and clear errors that never show a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import main
from bot.settings import Settings, SettingsError
from tests.slack_fakes import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack

GOOD = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}

pytest_plugins = ["tests.conftest_bot"]


def test_http_settings_from_env() -> None:
    env = {**GOOD, "SLACK_API_URL": "http://127.0.0.1:9/api", "PORT": "8080"}
    settings = Settings.from_env(env)
    assert settings.api_url == "http://127.0.0.1:9/api/"  # urljoin needs the slash
    assert (settings.port, settings.slash_command) == (8080, "/faq")
    assert BOT_TOKEN not in repr(settings) and SIGNING_SECRET not in repr(settings)


def test_socket_settings_need_the_app_token_not_the_secret() -> None:
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, socket=True
    )
    assert settings.app_token == APP_TOKEN and settings.signing_secret == ""
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN is not set"):
        Settings.from_env(GOOD, socket=True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SLACK_BOT_TOKEN is not set; copy it from"),
        ({**GOOD, "SLACK_BOT_TOKEN": APP_TOKEN}, "it looks like the SLACK_APP_TOKEN"),
        ({**GOOD, "SLACK_BOT_TOKEN": "xoxp-user-token-123"}, "does not look like a xoxb-"),
        ({**GOOD, "SLACK_BOT_TOKEN": '"xoxb-1-2-3"'}, "does not look like a xoxb-"),
        ({**GOOD, "SLACK_BOT_TOKEN": "xoxb-1 2-3"}, "quotes or spaces"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_SIGNING_SECRET is not set"),
        ({**GOOD, "SLACK_SIGNING_SECRET": "not-hex-secret"}, "not a hex string"),
        ({**GOOD, "SLACK_API_URL": "slack.com/api"}, "must be an http"),
        ({**GOOD, "FAQ_SLASH_COMMAND": "faq"}, "must look like /faq"),
        ({**GOOD, "PORT": "http"}, "PORT must be a port number"),
    ],
)
def test_bad_settings_say_what_to_fix_without_the_secret(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as error:
        Settings.from_env(env)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        if env.get(name):
            assert env[name].strip('"') not in str(error.value)


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return int(exit_info.value.code or 0), capsys.readouterr().err


def test_main_without_tokens_exits_2_with_a_message(
    clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run_main([], capsys)
    assert code == 2
    assert err.startswith("faq-bot: error: SLACK_BOT_TOKEN is not set")


def test_main_with_a_rejected_token_never_prints_it(
    fake_slack: FakeSlack,
    source_arg: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:

    token = "xoxb-invalid-0000-secretpart"
    monkeypatch.setenv("SLACK_BOT_TOKEN", token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("FAQ_FEEDBACK_DB", str(tmp_path / "fb.sqlite3"))
    argv = ["--source", source_arg, "--index", str(tmp_path / "index")]
    code, err = _run_main(argv, capsys)
    assert code == 2
    assert "Slack rejected SLACK_BOT_TOKEN" in err
    assert "secretpart" not in err
    assert [c.path for c in fake_slack.calls] == ["/api/auth.test"]
