"""Promptboard: ask your PostgreSQL a question, get a chart, keep it on your dashboard."""

__version__ = "0.1.0"
