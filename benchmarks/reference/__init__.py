"""The load section's reference: the API's read endpoints served by the stack
the schema document assumes (FastAPI + SQLAlchemy 2 under uvicorn).

Benchmark code only. It imports nothing from Django or the product; its
dependencies are the optional `bench` extra (pyproject.toml).
"""
