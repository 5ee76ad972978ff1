"""consents (being written)."""
