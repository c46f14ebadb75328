"""Prompt -> SQL generators behind one interface (see base.py)."""
