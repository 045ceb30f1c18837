from rest_framework.permissions import BasePermission


class IsDroverAdmin(BasePermission):
    """Mitosis' admin endpoints: an authenticated staff user."""

    message = "Permission denied: admin only"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
