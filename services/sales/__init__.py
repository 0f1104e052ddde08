"""Sales service: weekly Walmart store sales, per-week prediction and multi-week forecast."""
