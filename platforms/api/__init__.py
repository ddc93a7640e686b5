"""REST API of the platforms app."""
