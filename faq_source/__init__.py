"""The FAQ sources shipped with faq-kb (package data), listed in ``sources.toml``."""
