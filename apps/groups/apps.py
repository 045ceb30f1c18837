from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class GroupsConfig(AppConfig):
    name = "apps.groups"
    label = "groups"
    verbose_name = "Users and groups"

    def ready(self):
        from apps.core import authcache

        from .models import ApiKey, User

        # A changed user (state, password, staff) or key must not stay remembered by authentication.
        for model in (User, ApiKey):
            post_save.connect(authcache.clear, sender=model, dispatch_uid=f"authcache-{model.__name__}-save")
            post_delete.connect(authcache.clear, sender=model, dispatch_uid=f"authcache-{model.__name__}-delete")
