"""Peers measured on the same workload as p8j; each skips cleanly when not installed."""
