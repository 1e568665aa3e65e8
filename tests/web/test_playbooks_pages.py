"""The console's playbooks (/playbooks): the installed playbooks, one playbook's tasks at any
version, a version as YAML that imports again, importing a file as the next version (audited),
a file that is not a playbook refused whole with the reason, and who may look and import."""

from __future__ import annotations

import html
import io

import pytest

from incidents.cases.playbook_history import get_playbook
from incidents.cases.playbooks import install_default_playbooks, parse_playbook
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.csrf import csrf_token_from

pytestmark = [pytest.mark.one_backend, pytest.mark.usefixtures("english")]

PHYSICAL = """\
key: default-physical
incident_type: physical
title: Physical security incident (ours)
tasks:
  - key: make-safe
    title: Make the location safe
    due_after_minutes: 15
  - key: call-facilities
    title: Call facilities
"""


@pytest.fixture
def installed(rollback_database, clock):
    with rollback_database.unit_of_work() as session:
        install_default_playbooks(session, clock.now())


def upload(client, content: bytes, name: str, *, with_token: bool = True):
    data: dict[str, object] = {"playbook": (io.BytesIO(content), name)}
    if with_token:
        data["csrf_token"] = csrf_token_from(client.get("/account").text)
    return client.post("/playbooks/import", data=data, content_type="multipart/form-data")


def current_version(database, key: str) -> int:
    with database.unit_of_work() as session:
        return get_playbook(session, key).current_version


def test_the_list_shows_each_playbook_with_its_version_and_tasks(client, officer, installed):
    page = client.get("/playbooks").text

    row = page.split('<tr id="playbook-default-cyber">')[1].split("</tr>")[0]
    assert "Cyberincident (NIST SP 800-61)" in row
    assert '<td class="count">1</td>' in row  # the version
    assert '<td class="count">8</td>' in row  # its tasks
    assert "applied to every new incident of its type" in row
    assert 'id="playbook-default-physical"' in page
    assert 'id="playbook-default-staff_safety"' in page


def test_a_playbook_page_shows_its_tasks_with_their_due_times(client, officer, installed):
    page = client.get("/playbooks/default-cyber").text

    assert "Omvang vaststellen" in page
    assert "1 h 0 min after opening" in page  # due_after_minutes: 60
    assert "14 d 0 h after opening" in page  # lessons learned: 20160
    assert 'href="/playbooks/default-cyber/playbook.yml?version=1"' in page


def test_a_downloaded_version_is_a_playbook_file_with_the_same_tasks(client, officer, installed):
    response = client.get("/playbooks/default-cyber/playbook.yml")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="default-cyber-v1.yml"'
    )
    parsed = parse_playbook(response.data, source="download")
    assert parsed.key == "default-cyber"
    assert [task.title for task in parsed.tasks][:2] == [
        "Omvang vaststellen",
        "Bewijsmateriaal veiligstellen",
    ]
    assert parsed.tasks[0].due_after_minutes == 60


def test_an_imported_file_becomes_the_next_version_and_is_audited(
    client, officer, installed, rollback_database
):
    response = upload(client, PHYSICAL.encode(), "physical.yml")

    assert response.status_code == 303
    assert response.headers["Location"] == "/playbooks/default-physical"
    assert current_version(rollback_database, "default-physical") == 2
    page = client.get(response.headers["Location"]).text
    assert "has a new version 2: new incidents get its tasks" in page
    assert "Call facilities" in page
    assert "15 min after opening" in page
    older = client.get("/playbooks/default-physical?version=1").text
    assert "Call facilities" not in older
    assert "Tasks (version 1)" in older
    [entry] = audit_entries(rollback_database, "playbook.new_version")
    assert (entry.actor, entry.target) == ("officier", "playbook:default-physical")


def test_the_same_file_again_changes_nothing(client, officer, installed, rollback_database):
    upload(client, PHYSICAL.encode(), "physical.yml")
    response = upload(client, PHYSICAL.encode(), "physical.yml")

    assert response.status_code == 303
    assert "is unchanged" in client.get(response.headers["Location"]).text
    assert current_version(rollback_database, "default-physical") == 2


@pytest.mark.parametrize(
    ("content", "name", "reason"),
    [
        (b"key: [", "broken.yml", "broken.yml is not a playbook: line 2"),
        (
            PHYSICAL.replace("incident_type: physical", "incident_type: cyber"),
            "x.yml",
            "is a physical playbook",
        ),
        (PHYSICAL.replace("owner", "x") + "owner: me\n", "x.yml", "unknown field 'owner'"),
        (b"a: &a [1]\nb: *a\n", "alias.yml", "YAML aliases are not allowed"),
        (b"x" * (256 * 1024 + 1), "big.yml", "larger than 262144 bytes"),
        (PHYSICAL, "physical.txt", "physical.txt is not a .yml or .yaml file"),
        (PHYSICAL, "", "Choose a playbook file"),
    ],
)
def test_a_file_that_is_not_a_playbook_is_refused_whole_with_the_reason(
    client, officer, installed, rollback_database, content, name, reason
):
    data = content.encode() if isinstance(content, str) else content

    response = upload(client, data, name)

    assert response.status_code == 400
    assert reason in html.unescape(response.text)
    assert 'aria-invalid="true"' in response.text
    assert current_version(rollback_database, "default-physical") == 1
    assert current_version(rollback_database, "default-cyber") == 1


def test_an_import_without_the_csrf_token_is_refused(client, officer, installed, rollback_database):
    response = upload(client, PHYSICAL.encode(), "physical.yml", with_token=False)

    assert response.status_code == 400
    assert current_version(rollback_database, "default-physical") == 1


def test_an_analyst_may_look_but_not_import(app, client, clock, installed, rollback_database):
    sign_in(client, enrolled_user(app, role="soc_analyst", username="analist"), clock)

    assert client.get("/playbooks/default-cyber").status_code == 200
    assert "Import a changed version" not in client.get("/playbooks/default-cyber").text
    assert client.get("/playbooks/import").status_code == 403
    assert upload(client, PHYSICAL.encode(), "physical.yml").status_code == 403
    assert current_version(rollback_database, "default-physical") == 1


@pytest.mark.parametrize("role", ["staff", "auditor", "admin"])
def test_roles_without_incidents_see_no_playbook(app, client, clock, installed, role):
    sign_in(client, enrolled_user(app, role=role), clock)
    assert client.get("/playbooks").status_code == 403
    assert client.get("/playbooks/default-cyber/playbook.yml").status_code == 403


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/playbooks/no-such-playbook", 404),
        ("/playbooks/default-cyber?version=7", 404),
        ("/playbooks/default-cyber?version=x", 400),
        ("/playbooks/default-cyber/playbook.yml?version=99999999999", 400),
    ],
)
def test_what_does_not_exist_is_said_plainly(client, officer, installed, path, status):
    assert client.get(path).status_code == status
