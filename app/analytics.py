"""analytics (being written)."""
