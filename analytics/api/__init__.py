"""REST API of the analytics app."""
