"""A security officer imports a small Sigma rule through the import page (upload progress, then
the import report), opens the new rule, pastes two events into "test this rule" and sees the
one that matches with the explanation of the match; nothing is stored by the test."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.browser.conftest import screenshot

RULE = b"""title: Browser test - the Thursday night backup account signs in
id: 0f6a2d8e-5b1c-4c57-9a51-1d6f0c3e7b42
status: experimental
description: A made-up rule for the browser tests.
logsource:
    category: authentication
detection:
    selection:
        event.outcome: success
        user.name: svc-backup-nacht
    condition: selection
level: medium
"""
EVENTS = [
    {
        "@timestamp": "2026-11-26T23:14:05Z",
        "event": {"category": ["authentication"], "outcome": "success", "dataset": "linux.auth"},
        "host": {"name": "srv-den-haag-007"},
        "user": {"name": "svc-backup-nacht"},
        "message": "Accepted publickey for svc-backup-nacht from 192.0.2.41",
    },
    {
        "@timestamp": "2026-11-26T23:15:00Z",
        "event": {"category": ["authentication"], "outcome": "success", "dataset": "linux.auth"},
        "host": {"name": "srv-den-haag-007"},
        "user": {"name": "j.devries"},
        "message": "Accepted password for j.devries from 192.0.2.42",
    },
]
# Records what the progress bar showed at each upload progress event htmx fired (the page's own
# listener, registered first, has set it); the answer swaps in a fresh form, bar at 0.
RECORD_PROGRESS = """() => { window.uploadProgress = [];
  document.addEventListener("htmx:xhr:progress", () => window.uploadProgress.push(
    !document.getElementById("import-progress-box").hidden
      && document.getElementById("import-progress").value)); }"""


def test_an_imported_rule_is_tested_on_pasted_events_and_explains_its_match(
    shared_server, open_page
):
    page = open_page()
    page.goto(shared_server.url("/rules/import"))
    page.evaluate(RECORD_PROGRESS)
    page.set_input_files(
        "#rules-file",
        files=[{"name": "backup-nacht.yml", "mimeType": "application/yaml", "buffer": RULE}],
    )
    with page.expect_response(
        lambda response: response.request.method == "POST" and response.url.endswith("/import")
    ) as upload:
        page.click("#import-submit")
    assert upload.value.ok, upload.value.status
    expect(page.locator("#count-created")).to_have_text("1")
    assert page.url.endswith("/rules/import")  # htmx swapped the report in
    assert page.evaluate("window.uploadProgress").pop() == 100  # shown, and all of it sent
    screenshot(page, "rule-import-report")

    page.locator("#import-report a:has-text('Browser test')").click()
    expect(page.locator("h1")).to_contain_text("Browser test")
    page.fill("#trial-events", "\n".join(json.dumps(event) for event in EVENTS))
    page.click(".trial-form button[type=submit]")
    expect(page.locator("#trial-matched")).to_have_text("1")
    expect(page.locator("#trial-tested")).to_have_text("2")
    match = page.locator("#trial-result .trial-match")
    expect(match).to_have_count(1)
    expect(match.locator(".trial-event")).to_contain_text("srv-den-haag-007")
    explanation = match.locator("table.explanation")
    expect(explanation).to_contain_text("user.name")
    expect(explanation).to_contain_text("svc-backup-nacht")
    screenshot(page, "rule-with-test-result")

    page.goto(shared_server.url("/alerts?rule=" + "browser"))  # a test stores no alert
    expect(page.locator("table.alerts")).to_have_count(0)
