from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.groups import services
from apps.groups.models import User


class Command(BaseCommand):
    help = "Create an API key for USERNAME and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label to recognise the key by")

    def handle(self, *args, username, name, **options):
        try:
            user = User.objects.filter(username=username).first()
        except DatabaseError as exc:
            raise CommandError(f"The database is not ready ({exc}). Run `make run` once, or "
                               f"`python manage.py migrate`, then try again.") from None
        if user is None:
            raise CommandError(
                f"No user named {username!r}. Create one first: "
                f"DJANGO_SUPERUSER_PASSWORD=... python manage.py createsuperuser --noinput --username {username} --email ''"
            )
        if not user.is_active:
            raise CommandError(f"User {username!r} is {user.state}; activate it in the console first.")
        _, key = services.api_key_create(user=user, name=name)
        self.stdout.write(key)
