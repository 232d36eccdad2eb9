"""Data for 0005, outside one long transaction (each statement commits on its own, so only the rows being
written are locked, never the whole table), and safe to run again if it stops midway:

1. each point account's enrolment = its application's time, in batches of primary keys;
2. each provider account's holder = the resident of its earliest application (a later one by someone else,
   which the old per-campaign constraint let through, stays recorded but does not take the account);
3. fixed grants recorded before 0005 (ledger kind "tx", id "fixed:<reference>", on an account of a fixed
   campaign) become kind "fixed" with id "<campaign id>:<reference>", and get their FixedGrant row — the
   earliest one per resident and per reference of a campaign (any later duplicate stays in the ledger).

Reversing it leaves the data as they are (0005's reverse drops the new columns and tables)."""

from django.db import migrations

BATCH = 20_000


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM points_pointaccount")
        low, high = cursor.fetchone()
        if low is not None:
            for start in range(low, high + 1, BATCH):
                cursor.execute(
                    "UPDATE points_pointaccount SET enrolled_at = (SELECT a.created_at FROM points_application a "
                    "WHERE a.id = points_pointaccount.application_id) WHERE id >= %s AND id < %s",
                    [start, start + BATCH],
                )
        # One grouping pass and a join on the primary key (a correlated subquery per row would find no index
        # leading with the provider: UNIQUE (campaign, provider, service_account) leads with the campaign).
        cursor.execute(
            "INSERT INTO points_accountholder (provider_id, service_account, resident_id, created_at) "
            "SELECT a.provider_id, a.service_account, a.resident_id, a.created_at FROM points_application a "
            "JOIN (SELECT MIN(id) AS id FROM points_application GROUP BY provider_id, service_account) earliest "
            "ON earliest.id = a.id WHERE true ON CONFLICT DO NOTHING"
        )
        cursor.execute(
            "UPDATE points_providertransaction SET kind = 'fixed', external_id = "
            "(SELECT CAST(a.campaign_id AS VARCHAR(20)) FROM points_pointaccount a "
            "WHERE a.id = points_providertransaction.account_id) || ':' || SUBSTR(external_id, 7) "
            "WHERE kind = 'tx' AND external_id LIKE 'fixed:%%' AND account_id IN (SELECT a.id FROM "
            "points_pointaccount a JOIN points_campaign c ON c.id = a.campaign_id WHERE c.kind = 'fixed')"
        )
        cursor.execute(
            "INSERT INTO points_fixedgrant (campaign_id, resident_id, reference, transaction_id, created_at) "
            "SELECT a.campaign_id, ap.resident_id, SUBSTR(t.external_id, LENGTH(CAST(a.campaign_id AS VARCHAR(20))) + 2), "
            "t.id, t.recorded_at FROM points_providertransaction t "
            "JOIN points_pointaccount a ON a.id = t.account_id JOIN points_application ap ON ap.id = a.application_id "
            "WHERE t.kind = 'fixed' ORDER BY t.id ON CONFLICT DO NOTHING"
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("points", "0005_holders_enrolment_fixed_grants")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
