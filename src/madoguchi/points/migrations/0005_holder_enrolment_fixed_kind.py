"""A provider account has one holder across campaigns; a point account knows when it was enrolled; fixed grants
get their own ledger kind. Existing rows: enrolment = the application's time; the holder of an account = the
resident of its earliest application (later ones by someone else stay as recorded)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('identity', '0004_desk_sessions'),
        ('points', '0004_account_fillfactor'),
    ]

    operations = [
        migrations.AddField(
            model_name='pointaccount',
            name='enrolled_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name='providertransaction',
            name='kind',
            field=models.CharField(choices=[('tx', 'charge or purchase'), ('refund', 'refund'), ('fixed', 'fixed grant')], max_length=8),
        ),
        migrations.CreateModel(
            name='AccountHolder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('service_account', models.CharField(max_length=64, verbose_name='payment service ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('provider', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='points.paymentprovider')),
                ('resident', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='identity.resident')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('provider', 'service_account'), name='account_holder_once')],
            },
        ),
        migrations.RunSQL(
            "UPDATE points_pointaccount SET enrolled_at = (SELECT a.created_at FROM points_application a "
            "WHERE a.id = points_pointaccount.application_id)",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            # One grouping pass and a join on the primary key (a correlated subquery per row would find no
            # index leading with the provider: UNIQUE (campaign, provider, service_account) leads with campaign).
            "INSERT INTO points_accountholder (provider_id, service_account, resident_id, created_at) "
            "SELECT a.provider_id, a.service_account, a.resident_id, a.created_at FROM points_application a "
            "JOIN (SELECT MIN(id) AS id FROM points_application GROUP BY provider_id, service_account) earliest "
            "ON earliest.id = a.id",
            migrations.RunSQL.noop,
        ),
    ]
