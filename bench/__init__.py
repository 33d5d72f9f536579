"""Benchmarks: the shipped image, gunicorn config and deploy against the old (seed) setup.

Run `python -m bench --help`. These print numbers; they are not tests and pytest never collects them.
"""
