"""Database router: the vault app lives in the `vault` alias and nothing else does."""

VAULT_APP = "vault"
VAULT_DB = "vault"


class VaultRouter:
    def db_for_read(self, model, **hints):
        return VAULT_DB if model._meta.app_label == VAULT_APP else None

    def db_for_write(self, model, **hints):
        return VAULT_DB if model._meta.app_label == VAULT_APP else None

    def allow_relation(self, obj1, obj2, **hints):
        # No foreign key may cross into or out of the vault: other apps hold only opaque tokens.
        if VAULT_APP in (obj1._meta.app_label, obj2._meta.app_label):
            return obj1._meta.app_label == obj2._meta.app_label
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == VAULT_APP:
            return db == VAULT_DB
        return db != VAULT_DB
