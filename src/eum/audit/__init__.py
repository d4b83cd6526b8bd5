"""The append-only audit log of administrative actions: who, when, what."""
