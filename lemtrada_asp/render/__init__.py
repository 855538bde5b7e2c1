"""Renderers: a decision record in, text out (text, JSON, explain trees, letters)."""
