"""Service-backed Django admin machinery shared by the catalog and incidents admins.

The admin never validates or writes on its own: a submission is handed to the services, and
what they refuse (``ValidationError``, ``Conflict``, ``NotFound``, ``LockTimeout``) is shown on
the form with the service's own message. ``ServiceModelAdmin.changeform_view`` runs a submission
in one transaction; when a write hook raises ``ServiceRefused`` everything is rolled back and the
same POST is rendered again, this time with the refusals attached to the fields (that second pass
only validates, so it writes nothing).

It imports no models, so every app's admin can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import router, transaction
from django.forms.models import BaseInlineFormSet, model_to_dict
from django.http import HttpRequest, HttpResponse

from checkstack.admin_guard import GuardedModelAdmin
from checkstack.errors import Conflict, LockTimeout, NotFound
from checkstack.validation import DEPTH_MESSAGE, storage_problem

# Field name → messages; ``None`` is the form's (or formset's) non-field errors.
FieldErrors = dict[str | None, list[str]]
# Form prefix → its errors: "" is the main form, "updates-0" an inline row, "updates" the
# inline formset itself (for rows that are being deleted, whose own errors Django ignores).
Refusals = dict[str, FieldErrors]

REFUSALS_ATTR = "_checkstack_refusals"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
REFUSABLE = (ValidationError, Conflict, NotFound, LockTimeout)


class ServiceRefused(Exception):
    """A write hook's service call was refused; carries the messages by form prefix."""

    def __init__(self, refusals: Refusals) -> None:
        super().__init__(refusals)
        self.refusals = refusals


def refusal_errors(exc: Exception, *, conflict_field: str | None = None) -> FieldErrors:
    """The service's messages by form field (``None``: not about one field)."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return {
                (None if field == NON_FIELD_ERRORS else field): list(messages)
                for field, messages in exc.message_dict.items()
            }
        return {None: list(exc.messages)}
    if isinstance(exc, Conflict):
        return {conflict_field: [str(exc)]}
    return {None: [str(exc)]}


def refusals_of(request: HttpRequest) -> Refusals:
    return getattr(request, REFUSALS_ATTR, {})


class JSONField(forms.JSONField):
    """Django's JSON form field, refusing as a form error what would otherwise be a 500: input
    nested too deeply for the JSON decoder (its ``RecursionError`` escaped), integers longer
    than Python converts (a ``ValueError``, not a ``JSONDecodeError``), and values that
    cannot be stored or shown back (``checkstack.validation.storage_problem``: an unpaired
    surrogate such as ``"\\ud800"`` made the form page itself impossible to encode)."""

    def to_python(self, value: Any) -> Any:
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError(DEPTH_MESSAGE, code="invalid") from None
        except ValueError as exc:  # what the decoder raises besides JSONDecodeError
            reason = str(exc).split(";")[0]  # not Python's advice on raising the limit
            raise ValidationError(f"Enter a valid JSON: {reason}.", code="invalid") from None
        problem = storage_problem(converted, allow_nul=True)  # NUL: the services' message
        if problem:
            raise ValidationError(problem, code="invalid")
        return converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        """What the form shows back: the text as typed when it is refused."""
        try:
            value = super().bound_data(data, initial)
        except (RecursionError, ValueError):
            return forms.fields.InvalidJSONInput(data)
        if storage_problem(value, allow_nul=True):
            return forms.fields.InvalidJSONInput(data)
        return value


class ServiceChoiceField(forms.ChoiceField):
    """A select whose value the service checks, so a bad value gets the service's message."""

    def valid_value(self, value: Any) -> bool:
        return True


class ServiceMultipleChoiceField(forms.MultipleChoiceField):
    """A multiple select whose values the service checks (unknown ids: the service's message)."""

    def valid_value(self, value: Any) -> bool:
        return True


class ServiceForm(forms.ModelForm):
    """A model form validated by the service it is saved through.

    Fields are declared (not generated from the model) and lenient; model validation is skipped
    because it would answer the same bad input with different messages than the service.
    """

    refusals: ClassVar[Refusals] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Declared fields take no initial value from the instance by themselves.
        for name, value in model_to_dict(self.instance, fields=list(self.fields)).items():
            self.initial.setdefault(name, value)

    def _post_clean(self) -> None:
        # Instead of model validation: the refusals of the previous pass, if any.
        for field, messages in self.refusals.get(self.prefix or "", {}).items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)

    def changed_values(self, names: Sequence[str]) -> dict[str, Any]:
        """The cleaned values of the fields among ``names`` that the user changed."""
        return {name: self.cleaned_data[name] for name in names if name in self.changed_data}


class ServiceInlineFormSet(BaseInlineFormSet):
    """Inline rows saved through the services; no cross-row uniqueness check of its own."""

    refusals: ClassVar[Refusals] = {}

    def clean(self) -> None:
        # Instead of Django's cross-row unique check (the service refuses a duplicate itself,
        # on its row): the previous pass's refusals about the formset as a whole, if any.
        errors = self.refusals.get(self.prefix or "", {})
        messages = [message for field_messages in errors.values() for message in field_messages]
        if messages:
            raise ValidationError(messages)


def _without_declared(form: Any, fields: Any) -> Any:
    """Declared fields are always part of the form; naming them too would make Django look
    for model fields (and refuse non-editable ones such as a slug id given on create)."""
    if fields is None:
        return None
    return [name for name in fields if name not in form.declared_fields]


class ServiceModelAdmin(GuardedModelAdmin):
    """A model admin whose writes all go through services and whose errors are theirs.

    Subclasses implement ``save_through_services`` (called by ``save_model``), ``save_formset``
    and ``delete_model`` with service calls and raise ``ServiceRefused`` when a service
    refuses. Writes need ``manage_permission`` on top of Django's model permissions.
    """

    manage_permission: ClassVar[str]
    save_as = False

    # -- permissions ---------------------------------------------------------------------------

    def can_manage(self, request: HttpRequest) -> bool:
        return request.user.has_perm(self.manage_permission)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self.can_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self.can_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self.can_manage(request)

    # -- forms ---------------------------------------------------------------------------------

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = kwargs.get("form", self.form)
        if "fields" in kwargs:
            kwargs["fields"] = _without_declared(form, kwargs["fields"])
        form_class = super().get_form(request, obj, change, **kwargs)
        refusals = refusals_of(request)
        if refusals:
            form_class = type(form_class.__name__, (form_class,), {"refusals": refusals})
        return form_class

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method in SAFE_METHODS:
            return super().changeform_view(request, object_id, form_url, extra_context)
        using = router.db_for_write(self.model)
        # Like Django's own changeform_view (one transaction around _changeform_view), plus the
        # second pass.
        try:
            with transaction.atomic(using=using):
                return self._changeform_view(  # type: ignore[attr-defined,no-any-return]
                    request, object_id, form_url, extra_context
                )
        except ServiceRefused as refused:
            # Every write of this submission is rolled back; render the same input again with
            # the service's messages on the fields they concern (a validating pass only).
            setattr(request, REFUSALS_ATTR, refused.refusals)
            with transaction.atomic(using=using):
                return self._changeform_view(  # type: ignore[attr-defined,no-any-return]
                    request, object_id, form_url, extra_context
                )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if refusals_of(request):
            raise RuntimeError("The re-rendering pass of a refused submission tried to save")
        self.save_through_services(request, obj, form, change)

    def save_through_services(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        """Create or update ``obj`` from ``form`` through the services (``save_model``)."""
        raise NotImplementedError

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Save every inline formset (no model many-to-many: forms declare their fields), then
        report the refusals of all of them at once."""
        refusals: Refusals = {}
        for formset in formsets:
            try:
                self.save_formset(request, form, formset, change=change)
            except ServiceRefused as refused:
                refusals.update(refused.refusals)
        if refusals:
            raise ServiceRefused(refusals)


class ServiceInline(admin.TabularInline):
    """An inline of a ``ServiceModelAdmin``: its permissions are the parent admin's."""

    formset = ServiceInlineFormSet
    extra = 1

    def _parent(self) -> ServiceModelAdmin:
        return self.admin_site.get_model_admin(self.parent_model)  # type: ignore[return-value]

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if "fields" in kwargs:
            kwargs["fields"] = _without_declared(self.form, kwargs["fields"])
        else:
            fields = flatten_fieldsets(self.get_fieldsets(request, obj))
            kwargs["fields"] = _without_declared(self.form, fields)
        formset = super().get_formset(request, obj, **kwargs)
        refusals = refusals_of(request)
        if refusals:
            form = type(formset.form.__name__, (formset.form,), {"refusals": refusals})
            formset = type(formset.__name__, (formset,), {"form": form, "refusals": refusals})
        return formset

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        parent = self._parent()
        if obj is None:
            return parent.has_add_permission(request)
        return parent.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent().has_change_permission(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent().has_view_or_change_permission(request, obj)


def adopt(obj: Any, saved: Any) -> None:
    """Make the admin's instance the row a service saved, for the log entry and the redirect."""
    if saved is obj:
        return
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def collect_refusal(
    refusals: Refusals, prefix: str, exc: Exception, *, conflict_field: str | None = None
) -> None:
    for field, messages in refusal_errors(exc, conflict_field=conflict_field).items():
        refusals.setdefault(prefix, {}).setdefault(field, []).extend(messages)


# -- catalog forms ---------------------------------------------------------------------------
