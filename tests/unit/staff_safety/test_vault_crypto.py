"""The identity vault's cryptography: keyring text, sealing bound to record and field,
rotation, random pseudonyms and the blind index (no database: keys and bytes in, bytes out)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from staff_safety.vault_crypto import (
    PSEUDONYM_ALPHABET,
    VaultError,
    VaultKeyring,
    blind_index,
    blind_index_all_keys,
    is_pseudonym,
    needs_reseal,
    new_pseudonym,
    normalise_for_index,
    open_sealed,
    reseal,
    seal,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
TEXT_A = "k2026a:" + base64.urlsafe_b64encode(KEY_A).decode()
TEXT_B = "k2025b:" + base64.urlsafe_b64encode(KEY_B).decode()
WHERE = {"record": "report-17", "field": "victim_name"}


@pytest.fixture
def keyring() -> VaultKeyring:
    return VaultKeyring.parse(TEXT_A)


# --- keyring -------------------------------------------------------------------------------


def test_parsing_key_text_makes_the_first_key_current():
    keyring = VaultKeyring.parse(f"{TEXT_A}, {TEXT_B}")
    assert keyring.current_id == "k2026a"
    assert keyring.key_ids == ("k2026a", "k2025b")
    assert keyring.key("k2025b") == KEY_B


def test_keys_without_base64_padding_are_accepted():
    keyring = VaultKeyring.parse(TEXT_A.rstrip("="))
    assert keyring.key("k2026a") == KEY_A


def test_a_generated_key_text_parses_to_a_new_256_bit_key():
    text = VaultKeyring.generate("k2027a")
    keyring = VaultKeyring.parse(text)
    assert keyring.key_ids == ("k2027a",)
    assert len(keyring.key("k2027a")) == 32
    assert VaultKeyring.generate("k2027a") != text


def test_generating_with_a_bad_key_id_is_rejected():
    with pytest.raises(ValueError, match="key id"):
        VaultKeyring.generate("k 2027")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_key_text_is_rejected(text):
    with pytest.raises(ValueError, match="empty"):
        VaultKeyring.parse(text)


def test_a_stray_comma_is_rejected():
    with pytest.raises(ValueError, match="entry 2 is empty"):
        VaultKeyring.parse(TEXT_A + ",")


def test_an_entry_without_a_colon_is_rejected_without_echoing_it():
    secret = base64.urlsafe_b64encode(KEY_A).decode()
    with pytest.raises(ValueError, match="no ':'") as raised:
        VaultKeyring.parse(secret)
    assert secret not in str(raised.value)


@pytest.mark.parametrize("encoded", ["not base64!", "a+b/" * 11, "====", "abc=d"])
def test_a_key_that_is_not_urlsafe_base64_is_rejected(encoded):
    with pytest.raises(ValueError, match="not URL-safe base64") as raised:
        VaultKeyring.parse(f"k1:{encoded}")
    assert encoded not in str(raised.value)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_key_of_the_wrong_length_is_rejected(length):
    encoded = base64.urlsafe_b64encode(b"x" * length).decode()
    with pytest.raises(ValueError, match=f"32 bytes, not {length}|not URL-safe"):
        VaultKeyring.parse(f"k1:{encoded}")


def test_a_duplicate_key_id_is_rejected():
    other = "k2026a:" + base64.urlsafe_b64encode(KEY_B).decode()
    with pytest.raises(ValueError, match="'k2026a' appears twice"):
        VaultKeyring.parse(f"{TEXT_A},{other}")


@pytest.mark.parametrize("key_id", ["", "k 1", "k.1", "ké", "k" * 33, "k,1"])
def test_a_key_id_with_bad_characters_is_rejected(key_id):
    encoded = base64.urlsafe_b64encode(KEY_A).decode()
    with pytest.raises(ValueError, match="key id is 1 to 32"):
        VaultKeyring(keys={key_id: KEY_A})
    if "," not in key_id:
        with pytest.raises(ValueError, match="key id is 1 to 32"):
            VaultKeyring.parse(f"{key_id}:{encoded}")


def test_a_key_swapped_with_its_id_is_not_echoed_in_the_error():
    encoded = base64.urlsafe_b64encode(KEY_A).decode()
    with pytest.raises(ValueError, match="key id is 1 to 32") as raised:
        VaultKeyring.parse(f"{encoded}:k2026a")
    assert encoded not in str(raised.value)
    assert encoded.rstrip("=") not in str(raised.value)


def test_an_empty_keyring_and_a_short_key_are_rejected_when_built_directly():
    with pytest.raises(ValueError, match="at least one key"):
        VaultKeyring(keys={})
    with pytest.raises(ValueError, match="32 bytes, not 5"):
        VaultKeyring(keys={"k1": b"short"})


def test_the_keyring_repr_shows_ids_but_never_key_material():
    keyring = VaultKeyring.parse(f"{TEXT_A},{TEXT_B}")
    shown = repr(keyring) + str(keyring)
    assert "'k2026a', 'k2025b'" in shown
    for key in (KEY_A, KEY_B):
        assert base64.urlsafe_b64encode(key).decode().rstrip("=") not in shown
        assert repr(key) not in shown
        assert key.hex() not in shown


def test_the_keyring_cannot_be_changed_through_the_dict_it_was_built_from():
    keys = {"k1": KEY_A}
    keyring = VaultKeyring(keys=keys)
    keys["k1"] = KEY_B
    assert keyring.key("k1") == KEY_A
    with pytest.raises(TypeError):
        keyring.keys["k2"] = KEY_B  # type: ignore[index]


def test_asking_for_an_unknown_key_id_raises_vault_error(keyring):
    with pytest.raises(VaultError, match="no vault key with id 'k1999'"):
        keyring.key("k1999")


# --- sealing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Jan de Vries", "Zoë Çelik-Ørsted", "Фёдор", "李小龍", "👩‍⚕️ Ana", "", "x" * 10_000]
)
def test_a_sealed_name_opens_to_the_same_text(keyring, name):
    sealed = seal(keyring, name, **WHERE)
    assert open_sealed(keyring, sealed, **WHERE) == name
    if name:
        assert name.encode() not in sealed


def test_the_sealed_format_starts_with_version_and_key_id(keyring):
    sealed = seal(keyring, "Jan", **WHERE)
    assert sealed[0] == 1
    assert sealed[1] == len("k2026a")
    assert sealed[2:8] == b"k2026a"
    assert len(sealed) == 2 + 6 + 12 + len("Jan") + 16


def test_sealing_the_same_text_twice_uses_different_nonces(keyring):
    sealed = [seal(keyring, "Jan de Vries", **WHERE) for _ in range(20)]
    nonces = {value[8:20] for value in sealed}
    assert len(nonces) == 20
    assert len(set(sealed)) == 20


def test_a_value_moved_to_another_record_does_not_open(keyring):
    sealed = seal(keyring, "Jan de Vries", record="report-17", field="victim_name")
    with pytest.raises(VaultError, match="does not authenticate"):
        open_sealed(keyring, sealed, record="report-18", field="victim_name")


def test_a_value_moved_to_another_field_does_not_open(keyring):
    sealed = seal(keyring, "Jan de Vries", record="report-17", field="victim_name")
    with pytest.raises(VaultError, match="does not authenticate"):
        open_sealed(keyring, sealed, record="report-17", field="perpetrator_name")


def test_the_record_field_boundary_cannot_be_shifted(keyring):
    sealed = seal(keyring, "Jan", record="report-1", field="7name")
    with pytest.raises(VaultError):
        open_sealed(keyring, sealed, record="report-17", field="name")


def test_every_tampered_byte_is_detected(keyring):
    sealed = seal(keyring, "Jan de Vries", **WHERE)
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(VaultError):
            open_sealed(keyring, bytes(tampered), **WHERE)


def test_a_truncated_or_extended_value_is_rejected(keyring):
    sealed = seal(keyring, "Jan de Vries", **WHERE)
    for length in (0, 1, 2, 8, 20, 35, len(sealed) - 1):
        with pytest.raises(VaultError):
            open_sealed(keyring, sealed[:length], **WHERE)
    with pytest.raises(VaultError):
        open_sealed(keyring, sealed + b"\0", **WHERE)


def test_an_unknown_format_version_is_rejected(keyring):
    sealed = seal(keyring, "Jan", **WHERE)
    with pytest.raises(VaultError, match="unknown format version 2"):
        open_sealed(keyring, b"\x02" + sealed[1:], **WHERE)


def test_a_malformed_key_id_in_the_header_is_rejected(keyring):
    body = b"\x00" * 28
    with pytest.raises(VaultError, match="malformed key id"):
        open_sealed(keyring, b"\x01\x02\xff\xfe" + body, **WHERE)
    with pytest.raises(VaultError, match="malformed key id"):
        open_sealed(keyring, b"\x01\x02k." + body, **WHERE)
    with pytest.raises(VaultError, match="malformed key id"):
        open_sealed(keyring, b"\x01\x00" + body, **WHERE)


def test_a_value_sealed_under_an_unknown_key_does_not_open(keyring):
    sealed = seal(VaultKeyring.parse(TEXT_B), "Jan", **WHERE)
    with pytest.raises(VaultError, match="'k2025b'"):
        open_sealed(keyring, sealed, **WHERE)


def test_a_different_key_under_the_same_id_does_not_open():
    sealed = seal(VaultKeyring(keys={"k1": KEY_A}), "Jan", **WHERE)
    with pytest.raises(VaultError, match="does not authenticate"):
        open_sealed(VaultKeyring(keys={"k1": KEY_B}), sealed, **WHERE)


def test_vault_errors_name_neither_key_nor_plaintext(keyring):
    sealed = seal(keyring, "Jan de Vries", **WHERE)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(VaultError) as raised:
        open_sealed(keyring, tampered, **WHERE)
    message = str(raised.value)
    assert "Jan" not in message
    assert base64.urlsafe_b64encode(KEY_A).decode().rstrip("=") not in message
    assert KEY_A.hex() not in message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


@pytest.mark.parametrize(
    ("record", "field", "problem"),
    [
        ("", "name", "record must not be empty"),
        ("report-17", "", "field must not be empty"),
        ("report\0-17", "name", "record must not contain a NUL"),
        ("report-17", "na\0me", "field must not contain a NUL"),
    ],
)
def test_an_empty_record_or_field_or_one_with_nul_is_rejected(keyring, record, field, problem):
    with pytest.raises(ValueError, match=problem):
        seal(keyring, "Jan", record=record, field=field)
    sealed = seal(keyring, "Jan", **WHERE)
    with pytest.raises(ValueError, match=problem):
        open_sealed(keyring, sealed, record=record, field=field)


def test_text_that_is_not_encodable_is_rejected(keyring):
    with pytest.raises(UnicodeEncodeError):
        seal(keyring, "lone surrogate \udc80", **WHERE)


# --- rotation ------------------------------------------------------------------------------


def test_rotation_keeps_old_values_readable_and_reseals_under_the_new_key():
    old_keyring = VaultKeyring.parse(TEXT_B)
    old_sealed = seal(old_keyring, "Zoë Çelik", **WHERE)
    assert not needs_reseal(old_keyring, old_sealed)

    rotated = VaultKeyring.parse(f"{TEXT_A},{TEXT_B}")
    assert open_sealed(rotated, old_sealed, **WHERE) == "Zoë Çelik"
    assert needs_reseal(rotated, old_sealed)

    resealed = reseal(rotated, old_sealed, **WHERE)
    assert resealed[2:8] == b"k2026a"
    assert not needs_reseal(rotated, resealed)

    new_only = VaultKeyring.parse(TEXT_A)
    assert open_sealed(new_only, resealed, **WHERE) == "Zoë Çelik"
    with pytest.raises(VaultError, match="'k2025b'"):
        open_sealed(new_only, old_sealed, **WHERE)


def test_resealing_a_current_value_gives_a_fresh_nonce(keyring):
    sealed = seal(keyring, "Jan", **WHERE)
    resealed = reseal(keyring, sealed, **WHERE)
    assert resealed != sealed
    assert open_sealed(keyring, resealed, **WHERE) == "Jan"


def test_resealing_refuses_a_value_of_another_record(keyring):
    sealed = seal(keyring, "Jan", **WHERE)
    with pytest.raises(VaultError):
        reseal(keyring, sealed, record="report-18", field="victim_name")


def test_needs_reseal_rejects_a_malformed_value(keyring):
    with pytest.raises(VaultError, match="too short"):
        needs_reseal(keyring, b"\x01")
    with pytest.raises(VaultError, match="unknown format version"):
        needs_reseal(keyring, b"\x09" * 40)


# --- pseudonyms ----------------------------------------------------------------------------


def test_pseudonyms_have_the_documented_form_and_no_ambiguous_symbols():
    for _ in range(200):
        pseudonym = new_pseudonym()
        assert re.fullmatch(r"P-[A-Z2-9]{4}-[A-Z2-9]{4}", pseudonym)
        assert not set(pseudonym[2:].replace("-", "")) & set("0O1I")
        assert is_pseudonym(pseudonym)


def test_the_pseudonym_alphabet_gives_at_least_40_bits():
    assert len(set(PSEUDONYM_ALPHABET)) == 32
    assert not set(PSEUDONYM_ALPHABET) & set("0O1I")
    assert len(PSEUDONYM_ALPHABET) ** 8 >= 2**40


def test_pseudonyms_are_random_not_repeated():
    assert len({new_pseudonym() for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    "text", ["", "P-ABCD-EFG", "P-ABCD-EFGH-", "p-abcd-efgh", "P-ABC0-EFGH", "P-ABCI-EFGH", "X"]
)
def test_text_not_in_pseudonym_form_is_not_a_pseudonym(text):
    assert not is_pseudonym(text)


# --- blind index ---------------------------------------------------------------------------


def test_the_blind_index_is_stable_across_case_and_spacing(keyring):
    variants = [
        "CJIB-2024-0001",
        "  cjib-2024-0001 ",
        "Cjib-2024-0001\n",
        "\uff23\uff2a\uff29\uff22-2024-0001",
    ]
    indexes = {blind_index(keyring, "case_reference", variant) for variant in variants}
    assert len(indexes) == 1
    (index,) = indexes
    assert re.fullmatch(r"[0-9a-f]{64}", index)


def test_the_blind_index_folds_inner_whitespace_and_german_sharp_s(keyring):
    first = blind_index(keyring, "person", "Jan  de\tVries")
    assert first == blind_index(keyring, "person", "jan de vries")
    assert blind_index(keyring, "person", "Strauß") == blind_index(keyring, "person", "STRAUSS")


def test_the_blind_index_differs_per_kind_and_per_value(keyring):
    as_person = blind_index(keyring, "person", "12345")
    assert as_person != blind_index(keyring, "case_reference", "12345")
    assert as_person != blind_index(keyring, "person", "12346")


def test_the_blind_index_is_an_hmac_under_an_hkdf_derived_index_key(keyring):
    index_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"wachter vault index"
    ).derive(KEY_A)
    expected = hmac.new(index_key, b"person\0jan de vries", hashlib.sha256).hexdigest()
    assert blind_index(keyring, "person", " Jan de VRIES") == expected
    assert index_key != KEY_A


def test_the_blind_index_is_not_a_plain_hash_and_depends_on_the_key(keyring):
    index = blind_index(keyring, "person", "jan de vries")
    assert index != hashlib.sha256(b"jan de vries").hexdigest()
    assert index != blind_index(VaultKeyring.parse(TEXT_B), "person", "jan de vries")


def test_the_blind_index_uses_the_current_key_and_all_keys_cover_a_rotation():
    old = VaultKeyring.parse(TEXT_B)
    rotated = VaultKeyring.parse(f"{TEXT_A},{TEXT_B}")
    stored_before_rotation = blind_index(old, "person", "Jan de Vries")
    assert blind_index(rotated, "person", "Jan de Vries") != stored_before_rotation
    every = blind_index_all_keys(rotated, "person", "JAN DE VRIES")
    assert every == (blind_index(rotated, "person", "jan de vries"), stored_before_rotation)


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_a_blind_index_of_an_empty_value_is_rejected(keyring, value):
    with pytest.raises(ValueError, match="not empty"):
        blind_index(keyring, "person", value)
    with pytest.raises(ValueError, match="not empty"):
        blind_index_all_keys(keyring, "person", value)


@pytest.mark.parametrize("kind", ["", "Person", "per son", "1person", "per\0son", "p" * 65])
def test_a_blind_index_with_a_bad_kind_is_rejected(keyring, kind):
    with pytest.raises(ValueError, match="kind is"):
        blind_index(keyring, kind, "Jan")
    with pytest.raises(ValueError, match="kind is"):
        blind_index_all_keys(keyring, kind, "Jan")


def test_normalisation_is_nfkc_casefold_and_collapsed_whitespace():
    assert normalise_for_index("  \uff2a\uff41\uff4e\u00a0 DE   Vries ") == "jan de vries"
    assert normalise_for_index("ﬁle") == "file"
