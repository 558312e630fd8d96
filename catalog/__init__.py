"""Catalog: systems and groups that incidents affect."""
