"""個人番号利用事務系: My Number values, encrypted, in the `vault` database alias only (see routers.py)."""

from django.db import models


class MyNumberEntry(models.Model):
    """One person's My Number, encrypted with AES-256-GCM.

    `token` is the opaque reference other apps keep. `lookup` is an HMAC-SHA-256 of the value under the index
    key: it finds an existing entry for the same number without decrypting anything, and reveals nothing
    without the key. The token is the associated data of the encryption, so a ciphertext copied to another
    row does not decrypt.
    """

    token = models.CharField(max_length=40, unique=True)
    lookup = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=16)
    nonce = models.BinaryField(max_length=12)
    ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.token


class SealedMyNumber(models.Model):
    """A sealed My Number from the Internet zone (see sealing.py) that has been handed over to the vault.

    Keyed by the SHA-256 of the sealed token as it stands in the answers (a hash of ciphertext: it says nothing
    about the number). Answers in signed revisions can never be rewritten, so the sealed token stays there and
    this row resolves it to its vault token; handing the same sealed token over twice finds this row and
    stores nothing new.
    """

    sealed_sha256 = models.CharField(max_length=64, unique=True)
    token = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sealed_sha256
