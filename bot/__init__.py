"""faq-bot: the FAQ in Slack, a thin Bolt app over ``kb`` (see ``bot.app``)."""
