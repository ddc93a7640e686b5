"""REST API of the automation app."""
