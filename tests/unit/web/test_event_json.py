"""The event document's text: orjson's fast path writes exactly what ``json.dumps`` (indent
2, no ASCII escaping) writes, and what orjson refuses still shows, through ``json``."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from web.views.events import document_text, event_json

WITHOUT_FLOATS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text()
)


def documents(scalars):
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
    return st.dictionaries(st.text(), values, max_size=6)


@given(documents(WITHOUT_FLOATS))
def test_the_text_is_what_json_writes(document):
    assert document_text(document) == json.dumps(document, indent=2, ensure_ascii=False)


@given(documents(WITHOUT_FLOATS | st.floats(allow_nan=False, allow_infinity=False)))
def test_floats_are_written_as_stored_and_read_back_the_same(document):
    # orjson writes 1e-9 where json writes 1e-09: the stored text's own (orjson's) way.
    assert json.loads(document_text(document)) == document


def test_what_orjson_refuses_is_shown_through_json():
    shown = str(event_json({"big": 2**70, "lone": "a\ud800b"}))
    assert "&#34;big&#34;: 1180591620717411303424" in shown
    assert 'title="U+D800"' in shown  # the lone surrogate, marked as hidden
