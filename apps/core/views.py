from django.db import connection
from django.db.utils import DatabaseError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import dialects

HealthResp = inline_serializer("HealthResp", {"status": serializers.CharField()})


class HealthView(APIView):
    """200 {"status": "ok"} when the database answers, 503 otherwise (also Mitosis' /health)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    dialect = dialects.MITOSIS

    @extend_schema(tags=["Health"], operation_id="healthCheck", responses={200: HealthResp, 503: HealthResp})
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except DatabaseError as exc:
            return Response({"status": "unavailable", "error": f"database: {exc.__class__.__name__}"}, status=503)
        return Response({"status": "ok"})
