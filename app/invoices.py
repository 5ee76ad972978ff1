"""invoices (being written)."""
