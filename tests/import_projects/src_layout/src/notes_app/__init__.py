"""The application of the src-layout fixture project (importable only with src/ on sys.path)."""
