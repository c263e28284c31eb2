"""Rendering of plans: rich terminal tables, markdown, plots. The only place that prints to stdout."""
