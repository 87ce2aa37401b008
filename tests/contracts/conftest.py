"""Contract tests need the providers' schemas: the test extra installs them (pip install -e '.[test]')."""
