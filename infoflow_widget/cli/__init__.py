"""The `infoflow` command line."""
