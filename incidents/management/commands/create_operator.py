"""``manage.py create_operator <username>``: an incident manager with an API token."""

from __future__ import annotations

import secrets
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Field, Model
from rest_framework.authtoken.models import Token

MANAGERS_GROUP = "Incident managers"
MANAGER_PERMISSIONS = (
    ("incidents", "manage_incident"),
    ("catalog", "manage_catalog"),
)
# Lets operators use the admin too: view/add/change/delete on the domain models.
ADMIN_MODELS = (
    ("incidents", ("incident", "incidentupdate", "incidentlink", "incidentsystem")),
    ("catalog", ("system", "group")),
)


def managers_group() -> Group:
    """The "Incident managers" group holding the manage permissions (created if missing).

    Only the installed apps' permissions: ``incidents`` works without ``catalog``.
    """
    group, _ = Group.objects.get_or_create(name=MANAGERS_GROUP)
    wanted = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in MANAGER_PERMISSIONS
        if apps.is_installed(app)
    ]
    for app, models in ADMIN_MODELS:
        wanted += list(
            Permission.objects.filter(content_type__app_label=app, content_type__model__in=models)
        )
    group.permissions.add(*wanted)
    return group


def check_field(model: type[Model], name: str, value: str, label: str) -> None:
    """Run the validators of ``model``'s field ``name``: a CommandError if one fails."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field)  # the username and e-mail fields are concrete fields
    try:
        field.run_validators(value)
    except ValidationError as exc:
        raise CommandError(f"Invalid {label}: {' '.join(exc.messages)}") from exc


class Command(BaseCommand):
    help = (
        "Create (or update) a staff user in the 'Incident managers' group, which holds the "
        "incident and catalog manage permissions, and print an API token for it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="E-mail address of a new user.")
        parser.add_argument(
            "--password",
            default=None,
            help="Password for admin login (default: a generated one, printed once).",
        )

    def handle(
        self, *args: Any, username: str, email: str, password: str | None, **options: Any
    ) -> None:
        username = username.strip()
        if not username:
            raise CommandError("Give a non-blank username.")
        if password == "":
            raise CommandError(
                "--password is empty: give a password, or leave --password out to have one "
                "generated."
            )
        User = get_user_model()
        # Validated before anything is written: the field's own validators (Django's username
        # validator and its length, which the database would otherwise refuse with a DataError).
        check_field(User, User.USERNAME_FIELD, username, "username")
        if email:
            check_field(User, User.get_email_field_name(), email, "--email")
        with transaction.atomic():
            user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
            created = user is None
            if user is None:
                user = User(**{User.USERNAME_FIELD: username}, email=email, is_staff=True)
            if password is not None:
                try:
                    validate_password(password, user=user)
                except ValidationError as exc:
                    raise CommandError(f"Password refused: {' '.join(exc.messages)}") from exc
            try:
                group = managers_group()
            except Permission.DoesNotExist as exc:
                raise CommandError(
                    "Permissions are missing: run `manage.py migrate` first."
                ) from exc
            generated = None
            if created or password is not None:
                generated = password or secrets.token_urlsafe(12)
                user.set_password(generated)
            user.is_staff = True
            user.save()
            user.groups.add(group)
            token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(
            f"{'Created' if created else 'Updated'} operator {username!r} in {MANAGERS_GROUP!r}."
        )
        if generated and password is None:
            self.stdout.write(f"Password: {generated}")
        self.stdout.write(f"API token: {token.key}")
        self.stdout.write("Use it as: Authorization: Token <token>")
