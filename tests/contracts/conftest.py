"""Contract tests need the providers' schemas: requirements-dev.txt installs them (make test does)."""
