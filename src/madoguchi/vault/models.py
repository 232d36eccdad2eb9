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
