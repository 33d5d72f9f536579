"""Helpers shared by the tests, bench/ and scripts/ (never import from a test module: import from here).

app: the Flask service on a real database; gunicorn: the real master with the shipped config;
images, containers: the service image on the real Docker engine.
"""
