"""TOTP as pure functions with a fixed clock: code format, the ±1 step window, URIs, QR."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pyotp
import pytest

from access_control import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits
NOW = datetime(2026, 5, 1, 9, 0, 10, tzinfo=UTC)
STEP = timedelta(seconds=30)
# RFC 6238 appendix B: the SHA-1 seed "12345678901234567890"; six low digits of its codes.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "287082"),
    (1111111109, "081804"),
    (1111111111, "050471"),
    (1234567890, "005924"),
    (2000000000, "279037"),
]


def code_at(when: datetime, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).at(when)


def test_the_parameters_are_the_documented_ones():
    assert (totp.DIGITS, totp.STEP_SECONDS, totp.WINDOW, totp.SECRET_BITS) == (6, 30, 1, 160)
    assert totp.DIGEST().name == "sha1"


@pytest.mark.parametrize(("timestamp", "expected"), RFC_VECTORS)
def test_codes_match_the_rfc_6238_vectors(timestamp, expected):
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    assert totp.matching_step(RFC_SECRET, expected, now=when) == timestamp // 30


def test_time_steps_count_30_second_intervals_from_the_epoch():
    assert totp.time_step(datetime(1970, 1, 1, 0, 0, 59, tzinfo=UTC)) == 1
    assert totp.time_step(NOW) == int(NOW.timestamp()) // 30
    amsterdam = NOW.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert totp.time_step(amsterdam) == totp.time_step(NOW)


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        totp.time_step(datetime(2026, 5, 1, 9, 0))


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_codes_within_one_step_match_their_own_step(offset):
    code = code_at(NOW + offset * STEP)
    assert totp.matching_step(SECRET, code, now=NOW) == totp.time_step(NOW) + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_codes_two_or_more_steps_away_do_not_match(offset):
    code = code_at(NOW + offset * STEP)
    if code in {code_at(NOW + near * STEP) for near in (-1, 0, 1)}:
        pytest.skip("this code happens to collide with one inside the window")
    assert totp.matching_step(SECRET, code, now=NOW) is None


def test_a_code_of_another_secret_does_not_match():
    other = pyotp.random_base32()
    assert totp.matching_step(SECRET, code_at(NOW, other), now=NOW) is None


def test_only_server_time_decides():
    # The same code, checked an hour later, no longer matches.
    code = code_at(NOW)
    assert totp.matching_step(SECRET, code, now=NOW + timedelta(hours=1)) is None


@pytest.mark.parametrize("code", ["123456", "000000", "999999"])
def test_six_ascii_digits_are_well_formed(code):
    assert totp.is_well_formed_code(code)


MALFORMED = [
    "",
    "12345",
    "1234567",
    "12 34 56",
    " 123456",
    "123456 ",
    "123456\n",
    "\n123456",
    "12345a",
    "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
    "\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6",  # extended Arabic-Indic digits
    "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits (pyotp's verify accepts them)
    "\u00b9\u00b2\u00b3\u2074\u2075\u2076",  # superscripts: str.isdigit() says True
    "1" * 10_000,
    123456,
    123456.0,
    ["123456"],
    {"code": "123456"},
    b"123456",
    None,
    True,
]


@pytest.mark.parametrize("code", MALFORMED, ids=repr)
def test_malformed_codes_are_not_well_formed_and_never_match(code):
    assert totp.is_well_formed_code(code) is False
    assert totp.matching_step(SECRET, code, now=NOW) is None


def test_a_fullwidth_copy_of_the_right_code_does_not_match():
    code = code_at(NOW)
    fullwidth = "".join(chr(ord(digit) - ord("0") + 0xFF10) for digit in code)
    assert pyotp.TOTP(SECRET).verify(fullwidth, for_time=NOW)  # the library is lenient
    assert totp.matching_step(SECRET, fullwidth, now=NOW) is None


def test_new_secrets_have_160_bits_and_differ():
    first, second = totp.new_secret(), totp.new_secret()
    assert len(first) == 32
    assert len(base64.b32decode(first)) * 8 == 160
    assert first != second


def test_the_provisioning_uri_describes_the_secret_for_an_app():
    uri = totp.provisioning_uri(SECRET, username="alice")
    assert uri.startswith("otpauth://totp/Wachter:alice?")
    parsed = pyotp.parse_uri(uri)
    assert (parsed.secret, parsed.issuer, parsed.name) == (SECRET, "Wachter", "alice")
    assert (parsed.digits, parsed.interval) == (6, 30)


def test_the_provisioning_uri_escapes_the_label():
    uri = totp.provisioning_uri(SECRET, username="a b&c", issuer="CJIB Wachter")
    assert uri.startswith("otpauth://totp/CJIB%20Wachter:a%20b%26c?")


def test_the_qr_code_is_a_local_svg_data_uri():
    uri = totp.provisioning_uri(SECRET, username="alice")
    image = totp.qr_code_svg_data_uri(uri)
    assert image.startswith("data:image/svg+xml")
    svg = unquote(image.split(",", 1)[1])
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert image == totp.qr_code_svg_data_uri(uri)
