"""Provider Assistant: grounded answers over a health plan's provider manual."""

__version__ = "0.1.0"
