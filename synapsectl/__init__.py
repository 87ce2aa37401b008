"""synapsectl: the thin command-line client of synapsed."""
