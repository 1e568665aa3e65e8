"""A realistic sample for exploring the console, made by Wachter's own generators.

    find_state(session) -> Found      empty, the sample already there, or real data
    load_demo(database, settings, *, now, seed, days, progress) -> Summary

``events`` (an office's fortnight of logs), ``stories`` (attacks the rule pack detects),
``reports`` (half a year of aggression reports), ``intake`` (through Wachter's own intake
and detection), ``response`` (an officer's first hour), ``load`` (the order of it all).
"""

from wachter.demo.load import (
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DemoState,
    Found,
    Summary,
    find_state,
    load_demo,
)

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_SEED",
    "DemoState",
    "Found",
    "Summary",
    "find_state",
    "load_demo",
]
