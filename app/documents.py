"""documents (being written)."""
