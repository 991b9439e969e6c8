"""Benchmarks of langgraph-checkpoint-sqlalchemy against the official savers.

Run ``python bench/run.py`` (see README.md beside this file)."""
