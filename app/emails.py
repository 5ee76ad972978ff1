"""emails (being written)."""
