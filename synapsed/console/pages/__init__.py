"""One module per console page; each gives its routes for the app in routes.py."""
