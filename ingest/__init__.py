"""Ingestion: load -> clean -> find structure -> chunk -> embed -> write."""
