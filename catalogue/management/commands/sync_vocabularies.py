from django.core.management.base import BaseCommand

from catalogue.models import Term
from catalogue.vocabularies import load_vocabularies


class Command(BaseCommand):
    help = "Create or update the controlled vocabularies from catalogue/vocabularies/*.json."

    def handle(self, *args, **options):
        count = load_vocabularies(Term)
        self.stdout.write(self.style.SUCCESS(f"{count} terms loaded."))
