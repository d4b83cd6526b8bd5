"""Counters, totals and dashboards, read from the books and the operation records."""
