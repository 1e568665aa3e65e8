"""Test harness pieces: the throw-away PostgreSQL cluster, subprocess helpers."""
