"""What a scheduled search's detection keeps of a cluster document: bounded in size."""

from __future__ import annotations

from detection_rules.search.scheduled import SOURCE_LIMIT, bounded_source, split_ref


def test_a_large_document_is_copied_without_its_bulky_text():
    small = {"winlog": {"event_data": {"TargetUserName": "svc-adm"}}, "message": "short"}
    assert bounded_source(small) == small
    large = {
        "event": {"original": "x" * (SOURCE_LIMIT + 10), "code": "4625"},
        "message": "y" * 10,
        "user": {"name": "a"},
    }
    assert bounded_source(large) == {"event": {"code": "4625"}, "user": {"name": "a"}}
    assert bounded_source({"user": {"name": "z" * (SOURCE_LIMIT + 10)}}) is None


def test_a_document_reference_splits_at_the_first_slash_only():
    assert split_ref("winlogbeat-2026.11.30/a/b") == ("winlogbeat-2026.11.30", "a/b")
    assert split_ref(42) is None
    assert split_ref("no-slash") is None
