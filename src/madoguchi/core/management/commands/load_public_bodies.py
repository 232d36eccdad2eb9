from django.core.management.base import BaseCommand, CommandError

from madoguchi.core.public_bodies import PublicBodyDataError, public_bodies_load


class Command(BaseCommand):
    help = "Load (or update) the 47 prefectures and 1,741 municipalities from the bundled data. Idempotent."

    def handle(self, *args, **options):
        try:
            result = public_bodies_load()
        except PublicBodyDataError as exc:
            raise CommandError(str(exc)) from exc
        state = "updated" if result.changed else "already up to date"
        self.stdout.write(
            f"Public bodies {state}: {result.prefectures} prefectures, {result.municipalities} municipalities, "
            f"population {result.population:,} (2020 census)."
        )
