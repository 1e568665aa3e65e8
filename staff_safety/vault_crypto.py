"""The identity vault's cryptographic core: keyring, sealing, rotation, pseudonyms, blind index.

Reporter, victim, witness and perpetrator identities are stored only as sealed values
(AES-256-GCM); every other table refers to a random pseudonym. This module is pure: no
database, no settings, no clock. The key text comes from outside the database (an environment
variable or a 0600 file; the wiring is done elsewhere) and is parsed by ``VaultKeyring.parse``.

Sealed format (version 1)::

    version (1 byte) | key id length (1 byte) | key id (ASCII) | nonce (12 bytes) | ciphertext+tag

The associated data is ``record + NUL + field``, so a sealed value copied to another record
or another field does not open. Every failure to open raises ``VaultError`` with a message
that names no key and no plaintext. Programming errors (bad arguments, a malformed key text)
raise ``ValueError``.

The blind index is an HMAC-SHA256 over a normalised value with a key derived (HKDF) from a
vault key, so a case reference or a person can be found again without decrypting every row
and without the index revealing the value to someone who lacks the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
INDEX_INFO = b"wachter vault index"

# Letters and digits that cannot be misread for one another when read aloud or copied by
# hand: no 0/O and no 1/I. 32 symbols are 5 bits each; 8 symbols give 40 bits.
PSEUDONYM_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PSEUDONYM_GROUP = 4
_PSEUDONYM_PATTERN = re.compile(
    rf"P-[{PSEUDONYM_ALPHABET}]{{{_PSEUDONYM_GROUP}}}-[{PSEUDONYM_ALPHABET}]{{{_PSEUDONYM_GROUP}}}"
)

_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")


class VaultError(Exception):
    """A sealed value cannot be opened: malformed, tampered, unknown key or wrong context.

    The message never contains key material or plaintext.
    """


@dataclass(frozen=True, eq=False, repr=False)
class VaultKeyring:
    """Named 256-bit AES-GCM keys; the first is the *current* key that seals new values.

    The older keys stay only to open values sealed before a rotation. ``repr()`` shows the
    key ids, never the keys.
    """

    keys: Mapping[str, bytes]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a vault keyring needs at least one key")
        for key_id, key in self.keys.items():
            _check_key_id(key_id, where="key id")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
        # A read-only copy: the caller's dict cannot change the keyring afterwards.
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @property
    def current_id(self) -> str:
        return next(iter(self.keys))

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The key ids, current first."""
        return tuple(self.keys)

    def key(self, key_id: str) -> bytes:
        """The key called ``key_id``; ``VaultError`` when the keyring does not hold it."""
        try:
            return self.keys[key_id]
        except KeyError:
            raise VaultError(f"no vault key with id {key_id!r} in the keyring") from None

    def __repr__(self) -> str:
        return f"VaultKeyring(current_id={self.current_id!r}, key_ids={self.key_ids!r})"

    @classmethod
    def parse(cls, text: str) -> VaultKeyring:
        """Read ``"k2026a:<urlsafe base64 of 32 bytes>,k2025b:<…>"``; the first is current."""
        if not text.strip():
            raise ValueError("the vault key text is empty")
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(text.split(","), start=1):
            key_id, key = _parse_entry(entry.strip(), position)
            if key_id in keys:
                raise ValueError(f"entry {position}: key id {key_id!r} appears twice")
            keys[key_id] = key
        return cls(keys)

    @staticmethod
    def generate(key_id: str) -> str:
        """A new key as key text (``"<key_id>:<base64>"``) to put in front of the existing text."""
        _check_key_id(key_id, where="key id")
        encoded = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
        return f"{key_id}:{encoded}"


def _is_key_id(key_id: str) -> bool:
    return _KEY_ID_PATTERN.fullmatch(key_id) is not None


def _check_key_id(key_id: str, *, where: str) -> None:
    # The bad id is not echoed: a key pasted in the wrong place would end up in a log.
    if not _is_key_id(key_id):
        raise ValueError(f"{where}: a key id is 1 to 32 letters, digits, '-' or '_'")


def _parse_entry(entry: str, position: int) -> tuple[str, bytes]:
    """One ``key_id:base64`` entry; messages name the position and id, never the key."""
    if not entry:
        raise ValueError(f"entry {position} is empty (a stray comma?)")
    key_id, separator, encoded = entry.partition(":")
    if not separator:
        raise ValueError(f"entry {position} has no ':' between the key id and the key")
    key_id, encoded = key_id.strip(), encoded.strip()
    _check_key_id(key_id, where=f"entry {position}")
    if not _KEY_PATTERN.fullmatch(encoded):
        raise ValueError(f"key {key_id!r} is not URL-safe base64")
    padded = encoded.rstrip("=") + "=" * (-len(encoded.rstrip("=")) % 4)
    try:
        key = base64.urlsafe_b64decode(padded)
    except ValueError:
        raise ValueError(f"key {key_id!r} is not URL-safe base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
    return key_id, key


def _associated_data(record: str, field: str) -> bytes:
    # NUL separates the two, so neither may contain it: ("a\0b", "c") must differ from
    # ("a", "b\0c").
    for name, value in (("record", record), ("field", field)):
        if not value:
            raise ValueError(f"{name} must not be empty")
        if "\0" in value:
            raise ValueError(f"{name} must not contain a NUL character")
    return record.encode("utf-8") + b"\0" + field.encode("utf-8")


def seal(keyring: VaultKeyring, plaintext: str, *, record: str, field: str) -> bytes:
    """Encrypt ``plaintext`` under the current key, bound to ``record`` and ``field``."""
    associated = _associated_data(record, field)
    key_id = keyring.current_id
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(keyring.key(key_id)).encrypt(nonce, plaintext.encode("utf-8"), associated)
    key_id_bytes = key_id.encode("ascii")
    return bytes([FORMAT_VERSION, len(key_id_bytes)]) + key_id_bytes + nonce + ciphertext


def _split(sealed: bytes) -> tuple[str, bytes, bytes]:
    """Key id, nonce and ciphertext of a sealed value; ``VaultError`` when malformed."""
    if len(sealed) < 2:
        raise VaultError("sealed value is too short")
    if sealed[0] != FORMAT_VERSION:
        raise VaultError(f"sealed value has unknown format version {sealed[0]}")
    id_end = 2 + sealed[1]
    if len(sealed) < id_end + NONCE_BYTES + TAG_BYTES:
        raise VaultError("sealed value is too short")
    try:
        key_id = sealed[2:id_end].decode("ascii")
    except UnicodeDecodeError:
        raise VaultError("sealed value has a malformed key id") from None
    if not _is_key_id(key_id):
        raise VaultError("sealed value has a malformed key id")
    return key_id, sealed[id_end : id_end + NONCE_BYTES], sealed[id_end + NONCE_BYTES :]


def open_sealed(keyring: VaultKeyring, sealed: bytes, *, record: str, field: str) -> str:
    """Decrypt a value made by ``seal`` for the same ``record`` and ``field``."""
    associated = _associated_data(record, field)
    key_id, nonce, ciphertext = _split(sealed)
    try:
        plaintext = AESGCM(keyring.key(key_id)).decrypt(nonce, ciphertext, associated)
    except InvalidTag:
        raise VaultError(
            "sealed value does not authenticate: altered, or sealed for another record or field"
        ) from None
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:  # only a forged value that authenticates could get here
        raise VaultError("sealed value does not hold UTF-8 text") from None


def needs_reseal(keyring: VaultKeyring, sealed: bytes) -> bool:
    """True when ``sealed`` was made under a key other than the current one."""
    key_id, _nonce, _ciphertext = _split(sealed)
    return key_id != keyring.current_id


def reseal(keyring: VaultKeyring, sealed: bytes, *, record: str, field: str) -> bytes:
    """Open ``sealed`` and seal it again under the current key with a fresh nonce (rotation)."""
    plaintext = open_sealed(keyring, sealed, record=record, field=field)
    return seal(keyring, plaintext, record=record, field=field)


def new_pseudonym() -> str:
    """A random pseudonym ``P-XXXX-XXXX`` (40 bits).

    Random rather than derived from the identity: a derived pseudonym could be recomputed
    from a list of names (a dictionary attack); a random one reveals nothing.
    """
    symbols = "".join(secrets.choice(PSEUDONYM_ALPHABET) for _ in range(2 * _PSEUDONYM_GROUP))
    return f"P-{symbols[:_PSEUDONYM_GROUP]}-{symbols[_PSEUDONYM_GROUP:]}"


def is_pseudonym(text: str) -> bool:
    """True when ``text`` has the form ``new_pseudonym`` produces."""
    return _PSEUDONYM_PATTERN.fullmatch(text) is not None


def normalise_for_index(value: str) -> str:
    """NFKC, case-folded, whitespace trimmed and runs of it made one space."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _index_key(vault_key: bytes) -> bytes:
    # A separate key for the index: the AES key itself is never used for two purposes.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INDEX_INFO)
    return hkdf.derive(vault_key)


def _index_message(kind: str, value: str) -> bytes:
    if not _KIND_PATTERN.fullmatch(kind):
        raise ValueError(
            "kind is 1 to 64 lower-case letters, digits or '_', starting with a letter"
        )
    normalised = normalise_for_index(value)
    if not normalised:
        raise ValueError("a blind index needs a value that is not empty or only whitespace")
    # kind goes into the message, so one value indexed as two kinds gives unrelated indexes.
    return kind.encode("ascii") + b"\0" + normalised.encode("utf-8")


def blind_index(keyring: VaultKeyring, kind: str, value: str) -> str:
    """HMAC-SHA256 (hex) of the normalised ``value`` for ``kind``, under the current key."""
    message = _index_message(kind, value)
    index_key = _index_key(keyring.key(keyring.current_id))
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()


def blind_index_all_keys(keyring: VaultKeyring, kind: str, value: str) -> tuple[str, ...]:
    """The index under every key of the keyring, current first: lookups during a rotation.

    Rows indexed before the rotation carry the index under the old key until re-indexed;
    searching for any of these finds them as well as the rows indexed since.
    """
    message = _index_message(kind, value)
    return tuple(
        hmac.new(_index_key(keyring.key(key_id)), message, hashlib.sha256).hexdigest()
        for key_id in keyring.key_ids
    )
