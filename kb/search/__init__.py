"""Search.

A question against a loaded index, ranked on lexical and meaning evidence, with confidence.
"""
