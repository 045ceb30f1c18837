import os

from django.core.management.base import BaseCommand

from apps.groups.models import User


class Command(BaseCommand):
    help = "Create the superuser named by DJANGO_SUPERUSER_USERNAME/PASSWORD when both are set and it is missing."

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not username or not password:
            self.stdout.write("No superuser requested (set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD).")
            return
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Superuser {username} exists.")
            return
        User.objects.create_superuser(username=username, email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
                                      password=password)
        self.stdout.write(f"Created superuser {username}.")
