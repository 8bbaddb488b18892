"""Benchmarks of faq-kb against rank-bm25 and a reference engine (see bench/README.md)."""
