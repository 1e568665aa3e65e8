"""Marking messages for translation where no translation layer may be imported.

Domain packages raise errors whose text reaches people in the console. They mark the text
with ``N_`` (it returns it unchanged) and pass the variable parts as named parameters;
``pybabel extract -k N_`` collects the text, and the web layer's error handler translates
it into the reader's language before filling in the parameters.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional name of a no-op marker
    return message
