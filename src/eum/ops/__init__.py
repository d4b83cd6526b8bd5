"""Operating the platform: backing the database up and restoring it."""
