"""The console's rule pages: /rules, /rules/<key>, switching rules on and off, /rules/import.

Roles (SOC analysts read, security officers change), CSRF on every form, changes made through
the rule service and audited, the import report with every refused rule at file:line, the
upload limits, escaping of rule texts, Dutch first and English on request. Every test runs
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from access_control import Actor
from detection_rules.loading import RuleSource
from detection_rules.models import DetectionRule, DetectionRuleVersion
from detection_rules.service import import_rules
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post, step_up
from tests.support.csrf import csrf_token_from
from tests.web.test_templates import Page, event_handlers, inline_scripts, style_attributes
from web.views import rules

IMPORTED_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]
FAILED_ID = "5f0e1c2a-0000-4000-8000-000000000001"
FAILED_SIGN_IN = f"""title: Failed sign-in
id: {FAILED_ID}
status: test
description: Sign-ins that failed <script>alert(1)</script>
logsource: {{category: authentication}}
detection:
  selection: {{event.outcome: failure}}
  condition: selection
level: high
"""
BRUTE_FORCE = """title: Many failed sign-ins
id: 5f0e1c2a-0000-4000-8000-000000000002
status: experimental
correlation:
  type: event_count
  rules: [5f0e1c2a-0000-4000-8000-000000000001]
  group-by: [user.name]
  timespan: 10m
  condition: {gte: 10}
level: critical
"""
BAD_LEVEL = """title: Bad level
id: 5f0e1c2a-0000-4000-8000-00000000000b
status: test
logsource: {category: authentication}
detection:
  selection: {event.outcome: failure}
  condition: selection
level: urgent
"""
WITHOUT_ID = """title: VPN / badge check
status: test
logsource: {category: authentication}
detection:
  selection: {event.outcome: success}
  condition: selection
level: low
"""


@pytest.fixture
def officer(app, client, clock):
    account = enrolled_user(app, role="security_officer", username="officier")
    sign_in(client, account, clock)
    return account


@pytest.fixture
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    return account


def load(database, text, name="rules.yml"):
    with database.unit_of_work() as session:
        return import_rules(
            session,
            [RuleSource(name, text.encode())],
            actor=Actor(name="importeur"),
            now=IMPORTED_AT,
        )


def stored_rule(database, key):
    with database.unit_of_work() as session:
        rule = session.get(DetectionRule, key)
        assert rule is not None
        session.expunge(rule)
        return rule


def page_text_of(fragment: str) -> str:
    """Text as a reader sees it: without tags, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def page_text(response) -> str:
    return page_text_of(response.get_data(as_text=True))


def upload(client, *files: tuple[bytes, str], with_token: bool = True, **options):
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    data = {"rules": [(io.BytesIO(content), name) for content, name in files]}
    if with_token:
        data["csrf_token"] = token
    return client.post("/rules/import", data=data, content_type="multipart/form-data", **options)


# Who may look, who may change ------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/rules", {"soc_analyst", "security_officer"}),
        (f"/rules/{FAILED_ID}", {"soc_analyst", "security_officer"}),
        ("/rules/import", {"security_officer"}),
    ],
)
def test_only_the_roles_with_rule_permissions_see_the_pages(
    app, client, clock, rollback_database, role, path, allowed
):
    load(rollback_database, FAILED_SIGN_IN)
    sign_in(client, enrolled_user(app, role=role), clock)
    assert client.get(path).status_code == (200 if role in allowed else 403)


@pytest.mark.parametrize(
    "path",
    [
        f"/rules/{FAILED_ID}/disable",
        f"/rules/{FAILED_ID}/enable",
        "/rules/import",
        "/rules/import-pack",
    ],
)
def test_an_analyst_may_not_change_rules(client, analyst, rollback_database, path):
    load(rollback_database, FAILED_SIGN_IN)
    response = post(client, path)
    assert response.status_code == 403
    assert stored_rule(rollback_database, FAILED_ID).enabled is True
    [denied] = audit_entries(rollback_database, "authz.denied")
    assert (denied.actor, denied.outcome) == ("analist", "denied")


@pytest.mark.parametrize("path", ["/rules", f"/rules/{FAILED_ID}", "/rules/import"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_an_anonymous_post_changes_nothing(client, rollback_database):
    load(rollback_database, FAILED_SIGN_IN)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(f"/rules/{FAILED_ID}/disable", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert stored_rule(rollback_database, FAILED_ID).enabled is True


@pytest.mark.parametrize(("role", "shown"), [("soc_analyst", True), ("admin", False)])
def test_the_navigation_offers_rules_to_those_who_may_read_them(app, client, clock, role, shown):
    sign_in(client, enrolled_user(app, role=role), clock)
    page = client.get("/account").get_data(as_text=True)
    assert ('href="/rules"' in page) is shown


# The list ---------------------------------------------------------------------------------


def test_the_list_rows_say_level_status_kind_state_version_and_origin(
    client, analyst, rollback_database
):
    load(rollback_database, FAILED_SIGN_IN + "---\n" + BRUTE_FORCE)
    page = client.get("/rules").get_data(as_text=True)
    rows = {
        page_text_of(row).split(" ")[0]: page_text_of(row)
        for row in re.findall(r"<tr>\s*(<th scope=\"row\">.*?)</tr>", page, re.DOTALL)
    }
    assert rows["Failed"] == (
        f"Failed sign-in {FAILED_ID} hoog test enkele gebeurtenis aan 1 geïmporteerd"
    )
    assert rows["Many"] == (
        "Many failed sign-ins 5f0e1c2a-0000-4000-8000-000000000002 kritiek experimenteel "
        "correlatie aan 1 geïmporteerd"
    )


def test_the_list_filters_by_state_kind_and_text(client, analyst, rollback_database):
    load(rollback_database, FAILED_SIGN_IN + "---\n" + BRUTE_FORCE + "---\n" + WITHOUT_ID)
    with rollback_database.unit_of_work() as session:
        session.get(DetectionRule, FAILED_ID).enabled = False

    def titles(**query):
        page = client.get("/rules", query_string=query).get_data(as_text=True)
        return re.findall(r'<a href="/rules/[^"]+">([^<]+)</a>', page)

    assert titles() == ["Failed sign-in", "Many failed sign-ins", "VPN / badge check"]
    assert titles(enabled="off") == ["Failed sign-in"]
    assert titles(enabled="on", kind="rule") == ["VPN / badge check"]
    assert titles(kind="correlation") == ["Many failed sign-ins"]
    assert titles(q="BADGE") == ["VPN / badge check"]
    assert titles(q="000000000002") == ["Many failed sign-ins"]
    empty = client.get("/rules", query_string={"q": "nothing like it"})
    assert "Geen regels voldoen aan deze filters." in page_text(empty)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"enabled": "maybe"}, "Kies aan of uit uit de lijst."),
        ({"kind": "sequence"}, "Kies een soort regel uit de lijst."),
        ({"q": "x" * 201}, "Zoek op hoogstens 200 tekens."),
    ],
)
def test_a_bad_filter_is_explained_on_the_page(client, analyst, query, message):
    response = client.get("/rules", query_string=query)
    assert response.status_code == 400
    assert message in page_text(response)


def test_without_rules_an_officer_is_told_how_to_start(client, officer):
    response = client.get("/rules")
    text = page_text(response)
    assert "Er zijn nog geen detectieregels." in text
    assert "wachter rules import PATH" in text
    forms = [form.attributes.get("action") for form in Page(response.get_data(as_text=True)).forms]
    assert "/rules/import-pack" in forms
    assert 'href="/rules/import"' in response.get_data(as_text=True)


def test_without_rules_an_analyst_is_told_who_can_add_them(client, analyst):
    response = client.get("/rules")
    assert "Een security officer kan beide." in page_text(response)
    assert "/rules/import" not in response.get_data(as_text=True)


def test_english_on_request(client, analyst, rollback_database):
    load(rollback_database, FAILED_SIGN_IN)
    response = client.get("/rules", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    text = page_text(response)
    assert "Detection rules" in text
    assert "single event" in text
    assert "Detectieregels" not in text


# One rule ---------------------------------------------------------------------------------


def test_a_rule_page_shows_its_facts_and_its_text_escaped(client, analyst, rollback_database):
    load(rollback_database, FAILED_SIGN_IN)
    response = client.get(f"/rules/{FAILED_ID}")
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    [text] = re.findall(r'<pre class="details rule-text">(.*?)</pre>', page, re.DOTALL)
    assert html.unescape(text) == FAILED_SIGN_IN
    facts = page_text(response)
    assert "Huidige versie 1" in facts
    assert "Switch off" not in facts
    assert "Uitzetten" not in facts
    assert f'href="/detections?rule={FAILED_ID}"' in page


def test_a_rule_shows_every_version_and_an_older_one_on_request(client, analyst, rollback_database):
    load(rollback_database, FAILED_SIGN_IN, name="first.yml")
    edited = FAILED_SIGN_IN.replace("level: high", "level: medium")
    load(rollback_database, edited, name="second.yml")
    page = client.get(f"/rules/{FAILED_ID}").get_data(as_text=True)
    rows = re.findall(r'<tr id="version-(\d+)"[^>]*>(.*?)</tr>', page, re.DOTALL)
    assert [number for number, _ in rows] == ["2", "1"]
    assert "importeur" in rows[1][1]
    assert "first.yml" in rows[1][1]
    assert "2026-03-01 09:00:00" in rows[1][1]
    assert "level: medium" in page
    older = client.get(f"/rules/{FAILED_ID}", query_string={"version": "1"})
    assert "level: high" in older.get_data(as_text=True)
    assert "de huidige versie is 2" in page_text(older)


@pytest.mark.parametrize(("version", "status"), [("7", 404), ("x", 400), ("-1", 400)])
def test_a_version_that_does_not_exist_is_refused(
    client, analyst, rollback_database, version, status
):
    load(rollback_database, FAILED_SIGN_IN)
    response = client.get(f"/rules/{FAILED_ID}", query_string={"version": version})
    assert response.status_code == status


def test_an_unknown_rule_is_not_found(client, analyst):
    response = client.get("/rules/no-such-rule")
    assert response.status_code == 404
    assert "no-such-rule" in page_text(response)


# Switching on and off ------------------------------------------------------------------------


def test_an_officer_switches_a_rule_off_and_on_and_both_are_audited(
    client, officer, clock, rollback_database
):
    load(rollback_database, FAILED_SIGN_IN)
    page = client.get(f"/rules/{FAILED_ID}").get_data(as_text=True)
    assert f'action="/rules/{FAILED_ID}/disable"' in page

    response = post(client, f"/rules/{FAILED_ID}/disable")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/rules/{FAILED_ID}"
    assert stored_rule(rollback_database, FAILED_ID).enabled is False
    shown = client.get(f"/rules/{FAILED_ID}")
    assert "staat uit" in page_text(shown)
    assert f'action="/rules/{FAILED_ID}/enable"' in shown.get_data(as_text=True)

    assert post(client, f"/rules/{FAILED_ID}/enable").status_code == 303
    assert stored_rule(rollback_database, FAILED_ID).enabled is True
    changes = [
        (entry.action, entry.actor, entry.target, entry.occurred_at)
        for action in ("detection_rule.disabled", "detection_rule.enabled")
        for entry in audit_entries(rollback_database, action)
    ]
    assert changes == [
        ("detection_rule.disabled", "officier", f"detection_rule:{FAILED_ID}", clock.now()),
        ("detection_rule.enabled", "officier", f"detection_rule:{FAILED_ID}", clock.now()),
    ]


def test_switching_a_rule_off_needs_a_fresh_confirmation(client, officer, clock, rollback_database):
    load(rollback_database, FAILED_SIGN_IN)
    clock.advance(timedelta(minutes=10, seconds=30))  # the sign-in no longer counts as fresh

    response = post(client, f"/rules/{FAILED_ID}/disable")

    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/account/confirm"
    assert stored_rule(rollback_database, FAILED_ID).enabled is True

    step_up(client, officer, clock)
    assert post(client, f"/rules/{FAILED_ID}/disable").status_code == 303
    assert stored_rule(rollback_database, FAILED_ID).enabled is False


def test_a_rule_keyed_by_a_title_with_a_slash_has_its_page_and_buttons(
    client, officer, rollback_database
):
    load(rollback_database, WITHOUT_ID)
    listing = client.get("/rules").get_data(as_text=True)
    [link] = re.findall(r'<a href="(/rules/[^"]+)">VPN / badge check</a>', listing)
    assert client.get(link).status_code == 200
    assert post(client, f"{link}/disable").status_code == 303
    assert stored_rule(rollback_database, "VPN / badge check").enabled is False


def test_switching_without_a_csrf_token_is_refused(client, officer, rollback_database):
    load(rollback_database, FAILED_SIGN_IN)
    response = client.post(f"/rules/{FAILED_ID}/disable")
    assert response.status_code == 400
    assert stored_rule(rollback_database, FAILED_ID).enabled is True
    assert [entry.outcome for entry in audit_entries(rollback_database, "csrf.rejected")] == [
        "denied"
    ]


def test_switching_an_unknown_rule_is_not_found(client, officer):
    assert post(client, "/rules/no-such-rule/disable").status_code == 404


# Importing ---------------------------------------------------------------------------------


def test_an_import_reports_the_bad_rule_at_file_and_line_and_imports_the_good_ones(
    client, officer, rollback_database
):
    response = upload(
        client,
        (FAILED_SIGN_IN.encode(), "good.yml"),
        (BAD_LEVEL.encode(), "bad.yaml"),
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = page_text(response)
    assert "bad.yaml:8" in text
    assert "'urgent' is not a valid Sigma rule level" in text
    assert "fout: niet geïmporteerd" in text
    assert re.search(r'id="count-created">1<', page)
    assert re.search(r'id="count-rejected">1<', page)
    assert f'href="/rules/{FAILED_ID}"' in page
    rule = stored_rule(rollback_database, FAILED_ID)
    assert (rule.enabled, rule.current_version, rule.origin) == (True, 1, "imported")
    with rollback_database.unit_of_work() as session:
        keys = session.scalars(select(DetectionRule.key)).all()
        [version] = session.scalars(select(DetectionRuleVersion)).all()
    assert keys == [FAILED_ID]
    assert (version.created_by, version.source_path) == ("officier", "good.yml")
    [created] = audit_entries(rollback_database, "detection_rule.created")
    assert created.actor == "officier"


def test_a_zip_of_yaml_files_reports_each_member_with_its_line(client, officer, rollback_database):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sigma/good.yml", FAILED_SIGN_IN)
        archive.writestr("sigma/bad.yml", BAD_LEVEL)
        archive.writestr("README.md", "not a rule")
    response = upload(client, (buffer.getvalue(), "mijn regels.zip"))
    assert response.status_code == 200
    text = page_text(response)
    assert "mijn_regels.zip!sigma/bad.yml:8" in text
    assert "wachter-rules-" not in response.get_data(as_text=True)
    with rollback_database.unit_of_work() as session:
        [version] = session.scalars(select(DetectionRuleVersion)).all()
    assert version.source_path == "mijn_regels.zip!sigma/good.yml"


def test_a_refused_archive_is_named_as_uploaded_never_by_the_servers_folder(
    client, officer, rollback_database
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.zip", b"PK")
    response = upload(client, (buffer.getvalue(), "outer.zip"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    [notice] = re.findall(r'id="rules-file-error"[^>]*>([^<]*)<', page)
    assert html.unescape(notice).startswith("outer.zip: ")
    assert "inner.zip" in notice
    assert "wachter-rules-" not in page
    assert "/tmp" not in page


def test_importing_again_counts_unchanged_and_new_versions(client, officer, rollback_database):
    load(rollback_database, FAILED_SIGN_IN)
    edited = BRUTE_FORCE
    again = upload(client, (FAILED_SIGN_IN.encode(), "a.yml"), (edited.encode(), "b.yml"))
    page = again.get_data(as_text=True)
    assert re.search(r'id="count-unchanged">1<', page)
    assert re.search(r'id="count-created">1<', page)
    changed = upload(client, (FAILED_SIGN_IN.replace("high", "low").encode(), "a.yml"))
    assert re.search(r'id="count-new-version">1<', changed.get_data(as_text=True))
    assert stored_rule(rollback_database, FAILED_ID).current_version == 2


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "Kies een .yml-, .yaml- of .zip-bestand om te importeren."),
        ([(b"x", "")], "Kies een .yml-, .yaml- of .zip-bestand om te importeren."),
        ([(b"title: x", "rules.txt")], "rules.txt is geen .yml-, .yaml- of .zip-bestand."),
        ([(b"not a zip", "rules.zip")], "rules.zip: "),
    ],
)
def test_a_bad_upload_is_explained_on_the_form(client, officer, rollback_database, files, message):
    response = upload(client, *files)
    assert response.status_code == 400
    assert message in page_text(response)
    assert audit_entries(rollback_database, "detection_rule.created") == []


def test_a_file_larger_than_a_rule_file_may_be_is_refused_with_the_limit(client, officer):
    too_large = b"#" * (rules.MAX_UPLOAD_BYTES + 1)
    response = upload(client, (too_large, "huge.yml"))
    assert response.status_code == 400
    assert f"huge.yml is groter dan {rules.MAX_UPLOAD_BYTES} bytes." in page_text(response)


def test_an_upload_far_over_the_limit_is_refused_before_it_is_read(client, officer):
    response = upload(client, (b"#" * (rules.MAX_UPLOAD_BYTES + 128 * 1024), "huge.yml"))
    assert response.status_code == 413


def test_an_upload_above_the_consoles_usual_limit_but_within_the_rules_limit_is_read(
    client, officer, rollback_database
):
    padding = "# " + "x" * 1000 + "\n"
    big = FAILED_SIGN_IN + padding * 1500  # about 1.5 MB: above the app's 1 MiB
    assert 1024 * 1024 < len(big) < rules.MAX_UPLOAD_BYTES
    response = upload(client, (big.encode(), "big.yml"))
    assert response.status_code == 200
    assert stored_rule(rollback_database, FAILED_ID).current_version == 1


def test_other_console_posts_keep_the_usual_limit(client, officer, rollback_database):
    load(rollback_database, FAILED_SIGN_IN)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    response = client.post(
        f"/rules/{FAILED_ID}/disable",
        data={"csrf_token": token, "padding": "x" * (1024 * 1024 + 1)},
    )
    assert response.status_code == 413


def test_an_import_without_a_csrf_token_is_refused(client, officer, rollback_database):
    response = upload(client, (FAILED_SIGN_IN.encode(), "good.yml"), with_token=False)
    assert response.status_code == 400
    assert audit_entries(rollback_database, "detection_rule.created") == []


def test_the_import_form_posts_files_with_a_csrf_token(client, officer):
    page = Page(client.get("/rules/import").get_data(as_text=True))
    [form] = [form for form in page.forms if form.attributes.get("action") == "/rules/import"]
    assert form.attributes["enctype"] == "multipart/form-data"
    fields = page.contents_of(form)
    assert any(element.attributes.get("name") == "csrf_token" for element in fields)
    [file_input] = [element for element in fields if element.attributes.get("type") == "file"]
    assert file_input.attributes["accept"] == ".yml,.yaml,.zip"


def test_the_rule_pack_is_loaded_from_the_console(client, officer, rollback_database):
    response = post(client, "/rules/import-pack")
    assert response.status_code == 200
    text = page_text(response)
    assert "packs/authentication.yml" in text
    with rollback_database.unit_of_work() as session:
        origins = set(session.scalars(select(DetectionRule.origin)).all())
        count = len(session.scalars(select(DetectionRule.key)).all())
    assert origins == {"pack"}
    assert count > 10
    again = post(client, "/rules/import-pack").get_data(as_text=True)
    assert re.search(r'id="count-created">0<', again)
    assert re.search(rf'id="count-unchanged">{count}<', again)


# Pages obey the CSP ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/rules", f"/rules/{FAILED_ID}", "/rules/import"])
def test_the_pages_need_no_inline_script_or_style(client, officer, rollback_database, path):
    load(rollback_database, FAILED_SIGN_IN)
    page = Page(client.get(path).get_data(as_text=True))
    assert inline_scripts(page) == []
    assert event_handlers(page) == []
    assert style_attributes(page) == []
    assert page.tagged("style") == []
