"""Command lines: ``faq-search`` for asking, ``faq-kb`` for maintaining the knowledge base."""
