"""Users, groups and memberships (Mitosis' model, shared by every dialect), and API keys."""

import hashlib

from django.conf import settings
from django.contrib.auth.hashers import check_password as check_hashed
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models

from .choices import GroupState, Role, UserState


def password_secret(raw_password: str) -> str:
    """The secret Drover stores (hashed) for a password: its MD5 hex digest.

    Mitosis clients never send the password, only md5(password) as 16 bytes; Django's forms,
    HTTP Basic and /token/ send the password. Hashing the MD5 digest with Django's hasher lets
    both reach the same stored credential, and the MD5 itself is never stored.
    """
    return hashlib.md5(raw_password.encode(), usedforsecurity=False).hexdigest()  # protocol input, not storage


def md5_bytes_secret(md5_password: list[int] | bytes) -> str:
    return bytes(md5_password).hex()


class DroverUserManager(UserManager):
    """createsuperuser and create_user store the password through set_password (Django's
    manager would hash the raw password directly) and give the user its personal group."""

    def _create_user_object(self, username, email, password, **extra_fields):
        user = super()._create_user_object(username, email, None, **extra_fields)
        user.set_password(password)
        return user

    def _create_user(self, username, email, password, **extra_fields):
        from .services import personal_group_ensure

        user = super()._create_user(username, email, password, **extra_fields)
        personal_group_ensure(user)
        return user


class User(AbstractUser):
    state = models.CharField(max_length=8, choices=UserState.choices, default=UserState.ACTIVE)
    # Number of groups this user may create (Mitosis' group_quota; the personal group counts).
    group_quota = models.IntegerField(default=settings.DROVER_DEFAULT_GROUP_QUOTA)
    # Mitosis tasks this user may have waiting at once (Drover's; apps/jobs/services/task_quota.py).
    # Empty: DROVER_DEFAULT_TASK_QUOTA applies; 0: no limit.
    task_quota = models.PositiveIntegerField(null=True, blank=True, default=None)
    # Tokens carry this value; changing it (new login without retain, password change, state
    # change) ends every token issued before.
    auth_signature = models.BigIntegerField(default=0)

    objects = DroverUserManager()

    class Meta:
        db_table = "drover_user"

    def set_password(self, raw_password):
        if raw_password is None:
            super().set_password(None)
        else:
            self.set_secret(password_secret(raw_password))

    def check_password(self, raw_password):
        return self.check_secret(password_secret(raw_password))

    def set_secret(self, secret: str) -> None:
        super().set_password(secret)

    def check_secret(self, secret: str) -> bool:
        def upgrade(_):
            self.set_secret(secret)
            self.save(update_fields=["password"])

        return check_hashed(secret, self.password, upgrade)

    @property
    def is_admin(self) -> bool:
        return self.is_staff


class Group(models.Model):
    name = models.CharField(max_length=255, unique=True)
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_groups")
    state = models.CharField(max_length=8, choices=GroupState.choices, default=GroupState.ACTIVE)
    storage_quota = models.BigIntegerField(default=settings.DROVER_DEFAULT_STORAGE_QUOTA)
    storage_used = models.BigIntegerField(default=0)
    # Mitosis numbers a group's tasks 1, 2, 3...: the last number given.
    task_count = models.BigIntegerField(default=0)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="drover_groups")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "drover_group"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.READ)

    class Meta:
        db_table = "drover_membership"
        constraints = [models.UniqueConstraint(fields=["user", "group"], name="membership_unique_user_group")]

    def __str__(self) -> str:
        return f"{self.user} in {self.group} ({self.get_role_display()})"


class ApiKey(models.Model):
    """A long-lived credential. Only the SHA-256 of the key is stored: keys are 256-bit random,
    so a fast digest is enough and lets authentication find the row by index."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True, help_text="First characters, to recognise a key")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        db_table = "drover_api_key"
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
