"""``faq-bot``'s entry point: says what to install when the ``slack`` extra is missing."""

from __future__ import annotations

import sys

SLACK_EXTRA = "pip install 'faq-kb[slack]'"


def missing_slack() -> str | None:
    """The one-line error if slack-bolt / slack-sdk cannot be imported, else None."""
    try:
        import slack_bolt  # noqa: F401
        import slack_sdk  # noqa: F401
    except ModuleNotFoundError as error:
        return (
            f"the Slack bot needs the slack extra ({error.name or 'slack-bolt'} is not "
            f"installed): {SLACK_EXTRA}"
        )
    return None


def main() -> None:
    """Entry point of ``faq-bot``: exit 2 with one line if the slack extra is missing."""
    problem = missing_slack()
    if problem:
        print(f"faq-bot: error: {problem}", file=sys.stderr)
        sys.exit(2)
    from bot.app import main as run

    run()
