"""Calpico: an end-to-end encrypted messenger where people and their AI assistants chat together."""

__version__ = "0.1.0"
