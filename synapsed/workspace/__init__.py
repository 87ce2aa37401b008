"""Files and images from the calling IDE's workspace: which may be read (access), and reading them (reading)."""
