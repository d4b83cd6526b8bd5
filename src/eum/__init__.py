"""Eum: the shared platform on which a city and its districts run their local currencies."""

__version__ = "0.1.0"
