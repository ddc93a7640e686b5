"""REST API of the logs app."""
