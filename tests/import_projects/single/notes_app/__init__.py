"""The models of the single-database fixture project."""
