"""Learning from use.

The bot's shared state, readers' votes and picks, and the aliases they suggest.
"""
