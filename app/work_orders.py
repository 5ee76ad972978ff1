"""work_orders (being written)."""
