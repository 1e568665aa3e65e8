"""Errors of the storage layer."""

from __future__ import annotations


class StorageError(Exception):
    """A storage backend failed; the message is safe to log (no credentials)."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached or opened."""
