"""Builds WTForms classes from compiled form layouts (arrives with the web issue)."""
