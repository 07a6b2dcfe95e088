"""The application of the pyproject fixture project (importable only with src/ on sys.path)."""
