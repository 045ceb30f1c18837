"""Mitosis attachment and artifact routes (seed 003)."""

urlpatterns = []
