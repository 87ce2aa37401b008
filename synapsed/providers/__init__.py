"""Provider families: the catalog (ids, defaults) now; wire implementations build on it."""
