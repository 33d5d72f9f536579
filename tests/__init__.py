"""The test suite is one package: helpers live in tests/support and are imported as `tests.support.<module>`.

Each test folder has an __init__.py, so pytest imports a test file by its dotted name
(tests/app/test_login.py -> tests.app.test_login) from the repository root, which pyproject.toml
already puts on the path: files in different folders may share a name, and nothing edits sys.path.
"""
