"""REST API of the content app."""
