"""Abuse cases of evidence uploads and downloads (SECURITY_CASES 5.7, 49 and 54).

Oversize bodies and files (413, nothing left on disk or in the database), too many parts,
type confusion (HTML as PDF, SVG, double extensions, renamed pages, NUL and direction
overrides in names), archives stored but never opened (a zip bomb, a zip slip), malformed
multipart bodies (400 with a reason, never 500), tampered files (refused and audited), and
downloads no browser renders. The limit is set to 1 MiB here to keep the bodies small.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
import re
import time
import zipfile

import pytest
from sqlalchemy import select

from core import Settings
from incidents.evidence import (
    INCIDENT_QUOTA_BYTES,
    MAX_FILES_PER_REQUEST,
    CustodyEntry,
    Evidence,
)
from incidents.evidence import service as evidence_service
from incidents.evidence import types as evidence_types
from tests.security.helpers import account, sign_in
from tests.support.admin import audit_entries
from tests.support.csrf import csrf_token_from
from tests.support.incident_factories import make_incident
from web.views import evidence as evidence_views

MIB = 1024 * 1024
LOG = b"Mar  2 10:00:00 gw sshd[7]: Failed password for root from 203.0.113.9\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
GIF_JS = b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.domain);//"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, evidence_max_mb=1)


@pytest.fixture
def officer(app, client, clock, secrets):
    made = account(app, secrets, role="security_officer", username="officier")
    sign_in(client, made, clock, secrets)
    return made


@pytest.fixture
def incident_id(rollback_database):
    with rollback_database.unit_of_work() as session:
        return make_incident(session).id


def token_of(client) -> str:
    return csrf_token_from(client.get("/account").get_data(as_text=True))


def send(client, incident_id, *files, **options):
    data = {"csrf_token": token_of(client), "files": [(io.BytesIO(d), n) for n, d in files]}
    return client.post(
        f"/incidents/{incident_id}/evidence",
        data=data,
        headers={"Accept-Language": "en"},
        **options,
    )


def send_raw(client, incident_id, body: bytes, content_type: str, **options):
    return client.post(
        f"/incidents/{incident_id}/evidence",
        data=body,
        headers={"Content-Type": content_type, "Accept-Language": "en", **options},
    )


def part(name: str, value: bytes, filename: bytes | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'.encode()
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    return b"--wachter\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + value + b"\r\n"


def nothing_kept(database, settings) -> bool:
    directory = settings.data_dir / "evidence"
    on_disk = list(directory.iterdir()) if directory.exists() else []
    with database.unit_of_work() as session:
        rows = session.scalars(select(Evidence)).all()
    return on_disk == [] and rows == []


def reason_shown(response) -> str:
    match = re.search(r'role="alert">(.*?)</p>', response.get_data(as_text=True), re.DOTALL)
    assert match, "no reason on the page"
    return html.unescape(match.group(1))


# 50: size and count --------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client, officer, rollback_database, settings, incident_id
):
    response = send(client, incident_id, ("big.log", b"a" * (MIB + 100 * 1024)))
    assert response.status_code == 413
    assert nothing_kept(rollback_database, settings)


def test_a_file_over_the_limit_inside_the_body_limit_is_refused_and_nothing_kept(
    client, officer, rollback_database, settings, incident_id
):
    # The first file is fine and was kept on disk before the second one failed: the
    # upload's rollback removes it again.
    response = send(client, incident_id, ("small.log", LOG), ("big.log", b"a" * (MIB + 1)))
    assert response.status_code == 413
    assert reason_shown(response) == (
        "big.log is larger than 1 MiB, the largest evidence file accepted."
    )
    assert nothing_kept(rollback_database, settings)
    [refused] = audit_entries(rollback_database, "evidence.refused")
    assert (refused.actor, refused.target, refused.outcome) == (
        "officier",
        f"incident:{incident_id}",
        "failure",
    )
    assert audit_entries(rollback_database, "evidence.added") == []


def test_a_chunked_body_is_held_to_the_same_limit(
    client, officer, rollback_database, settings, incident_id
):
    body = (
        part("csrf_token", token_of(client).encode())
        + part("files", b"a" * (2 * MIB), filename=b"big.log")
        + b"--wachter--\r\n"
    )
    response = client.post(
        f"/incidents/{incident_id}/evidence",
        input_stream=io.BytesIO(body),
        headers={
            "Content-Type": "multipart/form-data; boundary=wachter",
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},  # as waitress delivers chunked
    )
    assert response.status_code == 413
    assert nothing_kept(rollback_database, settings)


def test_a_thousand_parts_are_refused_while_parsing(
    client, officer, rollback_database, settings, incident_id
):
    body = part("csrf_token", token_of(client).encode()) + b"".join(
        part("files", b"x", filename=f"{number}.txt".encode()) for number in range(1000)
    )
    response = send_raw(
        client, incident_id, body + b"--wachter--\r\n", "multipart/form-data; boundary=wachter"
    )
    assert response.status_code == 413
    assert nothing_kept(rollback_database, settings)


# 53: type confusion -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("invoice.pdf", b"<html><body><script>alert(1)</script>", "HTML, SVG or XML document"),
        ("logo.svg", b'<svg onload="alert(1)"/>', "must end in one of"),
        ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "HTML"),
        ("x.pdf.exe", b"MZ\x90\x00\x03\x00", "must end in one of"),
        ("page.png", b"<!DOCTYPE html><html><p>renamed page</p></html>", "HTML, SVG or XML"),
        ("report.pdf", b"MZ\x90\x00" + b"\x00" * 64, "program or a script"),
        ("photo.png", b"%PDF-1.7\n%%EOF\n", "not what its extension says"),
    ],
)
def test_type_confusion_is_refused_with_its_reason(
    client, officer, rollback_database, settings, incident_id, name, content, reason
):
    response = send(client, incident_id, (name, content))
    assert response.status_code == 400
    assert reason in reason_shown(response)
    assert nothing_kept(rollback_database, settings)
    [refused] = audit_entries(rollback_database, "evidence.refused")
    assert refused.target == f"incident:{incident_id}"
    assert name not in refused.details  # the rule that refused, not the file


def test_a_nul_byte_in_the_name_is_refused(
    client, officer, rollback_database, settings, incident_id
):
    body = (
        part("csrf_token", token_of(client).encode())
        + part("files", PNG, filename=b"shell.php\x00.png")
        + b"--wachter--\r\n"
    )
    response = send_raw(client, incident_id, body, "multipart/form-data; boundary=wachter")
    assert response.status_code == 400
    assert "NUL" in reason_shown(response)
    assert nothing_kept(rollback_database, settings)


def test_a_percent_encoded_nul_is_just_characters_of_a_png(
    client, officer, rollback_database, incident_id
):
    send(client, incident_id, ("shell.php%00.png", PNG))
    with rollback_database.unit_of_work() as session:
        evidence = session.scalars(select(Evidence)).one()
        assert (evidence.original_name, evidence.media_type) == ("shell.php%00.png", "image/png")


def test_direction_overrides_are_removed_from_names(
    client, officer, rollback_database, incident_id
):
    # "foto\u202egnp.txt" displays as "fototxt.png"; stored, it is what it is: a text file.
    assert send(client, incident_id, ("foto\u202egnp.txt", LOG)).status_code == 303
    refused = send(client, incident_id, ("factuur\u202efdp.exe", b"MZ"))
    assert refused.status_code == 400
    assert reason_shown(refused).startswith("factuurfdp.exe is not accepted")
    with rollback_database.unit_of_work() as session:
        [evidence] = session.scalars(select(Evidence)).all()
        assert evidence.original_name == "fotognp.txt"
    page = client.get(f"/incidents/{incident_id}/evidence").get_data(as_text=True)
    assert "\u202e" not in page


def test_a_polyglot_gif_is_only_ever_a_download(client, officer, rollback_database, incident_id):
    send(client, incident_id, ("cat.gif", GIF_JS))
    with rollback_database.unit_of_work() as session:
        evidence = session.scalars(select(Evidence)).one()
    response = client.get(f"/evidence/{evidence.id}/download")
    assert response.get_data() == GIF_JS
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"


# 51 and 52: archives are stored, never opened ----------------------------------------------


def zip_bomb() -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("zeros.bin", bytes(64 * MIB))  # 64 MiB of zeros, ~64 KiB packed
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(8):  # 512 MiB when unpacked twice over
            archive.writestr(f"layer{number}.zip", inner.getvalue())
    return outer.getvalue()


def test_a_zip_bomb_is_stored_as_an_opaque_blob_quickly(
    client, officer, rollback_database, settings, incident_id, tmp_path
):
    bomb = zip_bomb()
    assert len(bomb) < MIB
    started = time.perf_counter()
    response = send(client, incident_id, ("bomb.zip", bomb))
    elapsed = time.perf_counter() - started
    assert response.status_code == 303
    assert elapsed < 5  # hashing and typing under 1 MiB; unpacking 512 MiB would not be
    with rollback_database.unit_of_work() as session:
        evidence = session.scalars(select(Evidence)).one()
    assert (evidence.media_type, evidence.size) == ("application/zip", len(bomb))
    assert evidence.sha256 == hashlib.sha256(bomb).hexdigest()
    [kept] = list((settings.data_dir / "evidence").iterdir())
    assert kept.read_bytes() == bomb
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path.suffix != ".db"]
    assert [path for path in written if "zeros" in path.name or "layer" in path.name] == []


def test_a_zip_slip_archive_is_stored_without_a_look_inside(
    client, officer, rollback_database, settings, incident_id, tmp_path
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../app/config.py", b"SECRET = 'x'")
        archive.writestr("/etc/passwd", b"root:x:0:0")
        archive.writestr("C:\\x\\evil.bat", b"del *")
    assert send(client, incident_id, ("slip.zip", buffer.getvalue())).status_code == 303
    [kept] = list((settings.data_dir / "evidence").iterdir())
    assert re.fullmatch(r"[0-9a-f]{32}", kept.name)
    assert not (tmp_path / "app").exists()
    assert [path.name for path in tmp_path.rglob("config.py")] == []


# 54: malformed multipart --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"--x\r\nnot a part", "multipart/form-data", "no multipart boundary"),
        (b"files=a.txt", "application/x-www-form-urlencoded", "multipart/form-data"),
        (b'{"files": []}', "application/json", "multipart/form-data"),
        (
            part("csrf_token", b"{token}") + b"--wachter\r\nContent-Disposition: form-data; na",
            "multipart/form-data; boundary=wachter",
            "malformed or incomplete",
        ),
        (
            part("csrf_token", b"{token}") + part("files", b"hi", filename=b"a\xff\xfe.txt"),
            "multipart/form-data; boundary=wachter",
            "malformed or incomplete",
        ),
        (
            b"--wachter\r\nX-Padding: " + b"a" * 200_000 + b"\r\n",
            "multipart/form-data; boundary=wachter",
            "malformed or incomplete",
        ),
    ],
)
def test_malformed_multipart_is_a_400_with_a_reason(
    client, officer, rollback_database, settings, incident_id, body, content_type, reason
):
    body = body.replace(b"{token}", token_of(client).encode())
    response = send_raw(client, incident_id, body, content_type)
    assert response.status_code == 400
    assert reason in reason_shown(response)
    assert nothing_kept(rollback_database, settings)
    assert len(audit_entries(rollback_database, "csrf.rejected")) == 1


def test_a_five_thousand_character_name_is_shortened(
    client, officer, rollback_database, incident_id
):
    response = send(client, incident_id, ("n" * 5000 + ".txt", LOG))
    assert response.status_code == 303
    with rollback_database.unit_of_work() as session:
        evidence = session.scalars(select(Evidence)).one()
    assert len(evidence.original_name) == 255
    assert evidence.original_name.endswith("n.txt")


# Tampering ------------------------------------------------------------------------------------


def test_a_tampered_file_is_refused_and_the_refusal_kept_in_audit_and_custody(
    client, officer, rollback_database, settings, incident_id, caplog
):
    send(client, incident_id, ("auth.log", LOG))
    with rollback_database.unit_of_work() as session:
        evidence = session.scalars(select(Evidence)).one()
    path = settings.data_dir / "evidence" / evidence.stored_name
    path.chmod(0o600)
    path.write_bytes(LOG.replace(b"root", b"toor"))
    response = client.get(f"/evidence/{evidence.id}/download", headers={"Accept-Language": "en"})
    assert response.status_code == 409
    assert b"toor" not in response.get_data()
    assert "no longer matches the SHA-256" in html.unescape(response.get_data(as_text=True))
    [failed] = audit_entries(rollback_database, "evidence.integrity_failed")
    assert (failed.actor, failed.target, failed.outcome) == (
        "officier",
        f"evidence:{evidence.id}",
        "failure",
    )
    found = hashlib.sha256(LOG.replace(b"root", b"toor")).hexdigest()
    assert json.loads(failed.details) == {
        "expected": evidence.sha256,
        "found": found,
        "missing": False,
    }
    with rollback_database.unit_of_work() as session:
        actions = session.scalars(
            select(CustodyEntry.action).where(CustodyEntry.evidence_id == evidence.id)
        ).all()
    assert actions == ["received", "integrity_failed"]
    assert audit_entries(rollback_database, "evidence.read") == []
    [logged] = [r for r in caplog.records if r.getMessage() == "evidence integrity check failed"]
    assert getattr(logged, "wachter.evidence_id") == evidence.id


# The numbers docs/evidence.md documents --------------------------------------------------------


def test_the_documented_limits_are_the_limits_in_force():
    defaults = {field.name: field.default for field in dataclasses.fields(Settings)}
    assert defaults["evidence_max_mb"] == 25
    assert evidence_views.FORM_OVERHEAD == 64 * 1024
    assert MAX_FILES_PER_REQUEST == 10
    assert evidence_views.MAX_FILES_PER_REQUEST + evidence_views._OTHER_PARTS == 18
    assert INCIDENT_QUOTA_BYTES == 2 * 1024**3
    assert evidence_service.MAX_DESCRIPTION == 2000
    assert evidence_types.MAX_NAME_LENGTH == 255
