from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def forget_worker(sender, instance, **kwargs) -> None:
    from apps.core.authentication import forget_workers

    forget_workers([instance.uuid])


class WorkersConfig(AppConfig):
    name = "apps.workers"
    label = "workers"

    def ready(self):
        from .models import Worker

        # Worker authentication remembers workers (apps.core.authcache): a removed or changed
        # worker must not stay remembered. Queryset .delete() sends post_delete too; .update()
        # sends nothing, so those call forget_workers themselves.
        post_save.connect(forget_worker, sender=Worker, dispatch_uid="authcache-worker-save")
        post_delete.connect(forget_worker, sender=Worker, dispatch_uid="authcache-worker-delete")
