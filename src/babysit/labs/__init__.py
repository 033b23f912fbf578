"""The lectures' experiments, one file each."""
