"""The index.

Entries prepared and encoded into one file at build time, read cheaply at query time.
"""
