"""Text analysis shared by the index build and the query.

One tokenizer, its stopwords and clean-ups.
"""
