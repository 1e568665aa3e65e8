"""Column helpers shared by the incidents tables (one id type on SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")
