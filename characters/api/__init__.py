"""REST API of the characters app."""
