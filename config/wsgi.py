import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
application = get_wsgi_application()
# Import every URL module and view now: otherwise each gunicorn worker imports them during its
# first request (8% of a worker's samples in a 2-second benchmark run, py-spy).
get_resolver().url_patterns  # noqa: B018 - evaluated for its side effect
