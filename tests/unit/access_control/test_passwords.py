"""Usernames, the password policy and argon2id hashing (SECURITY_CASES #16, #17, #19, #20)."""

from __future__ import annotations

import statistics
import time
import unicodedata

import pytest

from access_control.errors import WeakPassword
from access_control.passwords import (
    MAX_PASSWORD_LENGTH,
    PasswordHasher,
    canonical_username,
    check_password_policy,
    normalise_password,
)
from core import InvalidInput, Settings

FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"
PHRASE = "Zebra lantern 42 quiet orbit; "


def phrase_of(length: int) -> str:
    return (PHRASE * (length // len(PHRASE) + 1))[:length]


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(memory_kib=8, time_cost=1, parallelism=1)


# --- usernames ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["alice", "Alice", " alice ", "ALICE", "alice\t", FULLWIDTH_ALICE])
def test_username_variants_share_one_canonical_form(raw):
    assert canonical_username(raw) == "alice"


def test_compatibility_characters_and_case_folding_are_normalised():
    assert canonical_username("\ufb01ona") == "fiona"  # the "fi" ligature
    assert canonical_username("Stra\u00dfe") == "strasse"
    assert canonical_username("a" * 150) == "a" * 150
    assert canonical_username("j.de-vries_2") == "j.de-vries_2"  # nothing else collapsed


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "a" * 151,
        "x" * 100_000,
        "al ice",
        "al\u00a0ice",  # no-break space
        "al\u3000ice",  # ideographic space
        "al\nice",
        "ali\x00ce",
        "ali\x1bce",
        "ali\u200bce",  # zero-width space
        "\u202eecila",  # right-to-left override
    ],
)
def test_bad_usernames_are_refused_naming_the_field(raw):
    with pytest.raises(InvalidInput) as caught:
        canonical_username(raw)
    assert caught.value.field == "username"
    assert caught.value.message


# --- password policy -----------------------------------------------------------------------


def test_nfc_and_nfd_spellings_normalise_alike():
    nfc = unicodedata.normalize("NFC", "Cr\u00e8me br\u00fbl\u00e9e f\u00fcr Zo\u00eb")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert normalise_password(nfc) == normalise_password(nfd)


def test_normalising_never_truncates():
    password = phrase_of(1000)
    assert normalise_password(password) == password


@pytest.mark.parametrize("length", [7, 11])
def test_short_passwords_are_rejected(length):
    with pytest.raises(WeakPassword, match="at least 12"):
        check_password_policy(phrase_of(length), username="alice")


@pytest.mark.parametrize("length", [12, 64, 1000, MAX_PASSWORD_LENGTH])
def test_long_passwords_are_accepted(length):
    check_password_policy(phrase_of(length), username="alice")


@pytest.mark.parametrize("length", [MAX_PASSWORD_LENGTH + 1, 1_000_000])
def test_passwords_over_1024_characters_are_rejected(length):
    with pytest.raises(WeakPassword, match="at most 1024") as caught:
        check_password_policy("y" * length, username="alice")
    assert caught.value.field == "password"


@pytest.mark.parametrize(
    "password",
    [
        "my cat sleeps on the warm windowsill",
        "\U0001f408 naps in the \u2600\ufe0f all afternoon",
        "purple elephants dance",  # no composition rules: lower case letters only is fine
        "            x",
    ],
)
def test_spaces_emoji_and_plain_phrases_are_accepted(password):
    check_password_policy(password, username="alice")


def test_length_is_counted_in_code_points_after_normalisation():
    nfc = "Zo\u00eb-\u00e9t\u00e9-caf\u00e9"  # 12 code points composed
    nfd = unicodedata.normalize("NFD", nfc)
    assert (len(nfc), len(nfd)) == (12, 16)
    check_password_policy(nfd, username="alice")
    with pytest.raises(WeakPassword):
        check_password_policy(unicodedata.normalize("NFD", "\u00e9" * 11), username="alice")


@pytest.mark.parametrize(
    "password", ["1qaz2wsx3edc", "leavemealone", "LeaveMeAlone", "QWERTY123456", "justinbieber"]
)
def test_passwords_from_the_common_list_are_rejected(password):
    with pytest.raises(WeakPassword, match="common passwords"):
        check_password_policy(password, username="alice")


@pytest.mark.parametrize(
    "password",
    [
        "Wachter2026!xyz",
        "my CJIB account 2026",
        "SecOps-rocks-forever",
        "mijnwachtwoord123",
        "password-is-very-long",
        "\uff37\uff41\uff43\uff48\uff54\uff45\uff52-fullwidth",  # NFKC makes it "Wachter"
    ],
)
def test_context_words_are_rejected(password):
    with pytest.raises(WeakPassword, match="must not contain the word"):
        check_password_policy(password, username="alice")


@pytest.mark.parametrize(
    "password", ["alice-in-wonderland", "ALICE-in-wonderland", "xxalicexxxxxx"]
)
def test_the_username_inside_the_password_is_rejected(password):
    with pytest.raises(WeakPassword, match="username"):
        check_password_policy(password, username="alice")


def test_a_password_equal_to_a_long_username_is_rejected():
    with pytest.raises(WeakPassword, match="username"):
        check_password_policy("Marie-Claire.Dubois", username="marie-claire.dubois")


def test_parts_of_the_display_name_are_rejected():
    with pytest.raises(WeakPassword, match="name"):
        check_password_policy("jansen-family-2026", username="bob", display_name="Bob Jansen")
    # short name parts ("van", "de") would forbid too much and are not checked
    check_password_policy(
        "caravan on the dunes", username="pieter", display_name="Piet van de Berg"
    )


# --- hashing --------------------------------------------------------------------------------


def test_hashes_are_argon2id_with_the_configured_cost(hasher):
    stored = hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert stored != hasher.hash("correct horse battery staple")  # fresh salt


def test_verify_accepts_the_password_and_nothing_else(hasher):
    stored = hasher.hash("correct horse battery staple")
    assert hasher.verify(stored, "correct horse battery staple") is True
    assert hasher.verify(stored, "correct horse battery stapl") is False
    assert hasher.verify(stored, "Correct horse battery staple") is False
    assert hasher.verify(stored, "") is False


def test_nfc_and_nfd_spellings_verify_alike(hasher):
    nfc = unicodedata.normalize("NFC", "Cr\u00e8me br\u00fbl\u00e9e f\u00fcr Zo\u00eb")
    nfd = unicodedata.normalize("NFD", nfc)
    assert hasher.verify(hasher.hash(nfc), nfd)
    assert hasher.verify(hasher.hash(nfd), nfc)


def test_long_passwords_are_not_truncated(hasher):
    first = "p" * 99 + "1"
    second = "p" * 99 + "2"
    assert not hasher.verify(hasher.hash(first), second)
    assert not hasher.verify(hasher.hash(second), first)
    longest = phrase_of(MAX_PASSWORD_LENGTH)
    assert hasher.verify(hasher.hash(longest), longest)
    assert not hasher.verify(hasher.hash(longest), longest[:-1] + "!")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=8,t=1,p=1$garbage",
        "$argon2id$v=19$m=8,t=1,p=1$\u00fc\u00fc",
        "$2b$12$abcdefghijklmnopqrstuuJ7mHq6Xg1ZSx8h3K0d3nAvUVS0oC9u.",  # bcrypt
    ],
)
def test_malformed_hashes_never_verify_and_never_raise(hasher, stored):
    assert hasher.verify(stored, "correct horse battery staple") is False


def test_a_missing_hash_never_verifies(hasher):
    assert hasher.verify(None, "correct horse battery staple") is False


@pytest.mark.parametrize("length", [MAX_PASSWORD_LENGTH + 1, 1_000_000])
def test_oversized_inputs_are_refused_before_hashing(hasher, length):
    huge = "z" * length
    stored = hasher.hash("correct horse battery staple")
    started = time.perf_counter()
    for attempt in (
        lambda: hasher.hash(huge),
        lambda: hasher.verify(stored, huge),
        lambda: hasher.verify_dummy(huge),
    ):
        with pytest.raises(WeakPassword):
            attempt()
    assert time.perf_counter() - started < 1


def test_rehash_is_needed_after_a_parameter_change(hasher):
    stored = hasher.hash("correct horse battery staple")
    assert not hasher.needs_rehash(stored)
    assert PasswordHasher(memory_kib=16, time_cost=1, parallelism=1).needs_rehash(stored)
    assert PasswordHasher(memory_kib=8, time_cost=2, parallelism=1).needs_rehash(stored)
    assert hasher.needs_rehash("not a hash")


def test_from_settings_uses_the_argon2_settings(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite:///x.db",
        argon2_memory_kib=19456,
        argon2_time_cost=2,
        argon2_parallelism=1,
    )
    built = PasswordHasher.from_settings(settings)
    assert (built.memory_kib, built.time_cost, built.parallelism) == (19456, 2, 1)


def test_verify_dummy_returns_nothing_for_any_password(hasher):
    assert hasher.verify_dummy("correct horse battery staple") is None
    assert hasher.verify_dummy("") is None


def test_an_unknown_user_costs_as_much_time_as_a_wrong_password():
    # Realistic cost (the settings' minimum) so hashing, not overhead, dominates.
    hasher = PasswordHasher(memory_kib=19456, time_cost=2, parallelism=1)
    stored = hasher.hash("the real password of someone")

    def median_seconds(action) -> float:
        samples = []
        for _ in range(7):
            started = time.perf_counter()
            action()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    real = median_seconds(lambda: hasher.verify(stored, "a wrong password guess"))
    dummy = median_seconds(lambda: hasher.verify_dummy("a wrong password guess"))
    missing = median_seconds(lambda: hasher.verify(None, "a wrong password guess"))
    assert 1 / 3 < dummy / real < 3
    assert 1 / 3 < missing / real < 3
