"""Example application whose two databases (catalog and monitor) multidb migrates."""
