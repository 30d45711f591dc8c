"""The application layer: what every way in shares, between the entrypoints and the domain.

`bootstrap(settings)` (application/bootstrap.py) builds an `App`; entrypoints speak to the
App only: its use cases, its start-up, health and shutdown, and the worker's concurrency.
"""
