from django.db import models


class UserState(models.TextChoices):
    ACTIVE = "Active"
    LOCKED = "Locked"
    DELETED = "Deleted"


class GroupState(models.TextChoices):
    ACTIVE = "Active"
    LOCKED = "Locked"
    DELETED = "Deleted"


class Role(models.IntegerChoices):
    """Mitosis' UserGroupRole; stored as an int so "at least Write" is one comparison."""

    READ = 1, "Read"
    WRITE = 2, "Write"
    ADMIN = 3, "Admin"

    @classmethod
    def from_name(cls, name: str) -> "Role":
        for role in cls:
            if role.label == name:
                return role
        raise ValueError(name)
