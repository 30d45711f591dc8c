"""Implementations of the ports: real ones and the fakes configuration can select."""
