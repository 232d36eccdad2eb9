"""Schema only, quick on a large table: a provider account has one holder across campaigns (AccountHolder); a
point account knows when it was enrolled; fixed grants get their own ledger kind and a FixedGrant row (once per
resident and per reference in a campaign). Existing accounts get a placeholder enrolment of 2000-01-01 (which
never refuses a grant) for the moment until 0006 fills in the real time in batches, outside this transaction:
the ADD COLUMN holds an exclusive lock on the table, so nothing else is done in this migration."""

import datetime

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
            field=models.DateTimeField(default=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)),
            preserve_default=False,
        ),
        migrations.AlterField(
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
        migrations.CreateModel(
            name='FixedGrant',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reference', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('campaign', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='points.campaign')),
                ('resident', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='identity.resident')),
                ('transaction', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='points.providertransaction')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('campaign', 'resident'), name='fixed_grant_once_per_resident'), models.UniqueConstraint(fields=('campaign', 'reference'), name='fixed_grant_once_per_reference')],
            },
        ),
    ]
