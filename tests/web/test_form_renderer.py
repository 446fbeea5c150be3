"""The form renderer and `{% field %}` write the same HTML as Django's templates did.

deskgate.http.renderer writes labels and plain inputs in Python, and the `field` tag the
labelled block `http/_field.html` used to render: each is compared here with the template
it replaces, on the sign-in forms and on fields made to reach every branch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.template import engines
from django.utils.functional import lazy
from django.utils.safestring import mark_safe

from deskgate.http.forms import Form
from deskgate.http.renderer import FormRenderer
from deskgate.signin import forms as signin_forms

# http/_field.html as it was, before the `field` tag wrote it.
OLD_FIELD = """{# Django's widgets name their help and errors in aria-describedby as <id>_helptext and <id>_error: those ids are here. #}
<div class="field{% if field.errors %} invalid{% endif %}">
  {{ field.label_tag }}
  {{ field }}
  {% if field.help_text %}<p class="help" id="{{ field.auto_id }}_helptext">{{ field.help_text }}</p>{% endif %}
  {% if field.errors %}<div id="{{ field.auto_id }}_error">{% for error in field.errors %}<p class="error" role="alert">{{ error }}</p>{% endfor %}</div>{% endif %}
</div>
"""  # noqa: E501


class Everything(Form):
    required_css_class = "needed"

    text = forms.CharField(
        label="Name <&> \"quoted\" 'x'",
        help_text="Say <b>who</b> & why",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autofocus": True,
                "hidden": False,
                "data-none": None,
                "data-safe": mark_safe("<i>safe</i>"),  # noqa: S308  # the case under test
                "title": lazy(lambda: 'lazy "title" <x>', str)(),
                "data-n": 5,
            }
        ),
    )
    secret = forms.CharField(label="Password?", widget=forms.PasswordInput(render_value=True))
    email = forms.EmailField(required=False, help_text=mark_safe("<em>work</em> address"))  # noqa: S308
    number = forms.IntegerField(initial=12345, min_value=1)
    hidden = forms.CharField(widget=forms.HiddenInput, initial='a"b')
    tick = forms.BooleanField(required=False, initial=True)
    untick = forms.BooleanField(label="Untick", required=False)
    when = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    phone = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "tel"}))
    own_id = forms.CharField(required=False, widget=forms.TextInput(attrs={"id": "mine"}))
    choice = forms.ChoiceField(choices=[("a", "A <1>"), ("b", "B")], required=False)
    words = forms.CharField(required=False, widget=forms.Textarea)


def _forms() -> list[forms.Form]:
    made: list[forms.Form] = [
        Everything(),
        Everything({"text": '<script>"', "secret": "p&w", "number": "x", "tick": "on"}),
        Everything(auto_id=False),
        Everything({}, auto_id="f_%s", prefix="p"),
        signin_forms.PasswordForm(),
        signin_forms.PasswordForm({"username": 'a"b<c>', "password": ""}),
        signin_forms.PasswordForm(initial={"username": "anna.admin"}),
        signin_forms.CodeForm(),
        signin_forms.CodeForm({"code": "12 34 5x", "remember": "on"}),
        signin_forms.AppCodeForm({"app_code": ""}),
        signin_forms.RecoveryCodeForm({"recovery_code": "zz"}),
        signin_forms.NewPasswordForm({"new_password": "a", "confirm_password": "b"}),
        signin_forms.ResetRequestForm({"email": "x"}),
    ]
    for form in made:
        form.is_valid() if form.is_bound else None
    return made


def _with(renderer: Any, form: forms.Form) -> forms.Form:
    form.renderer = renderer
    return form


@pytest.mark.parametrize("index", range(len(_forms())))
@pytest.mark.parametrize("language", ["en", "fi"])
def test_fields_and_labels_are_the_templates_html(index: int, language: str) -> None:
    from django.utils import translation

    with translation.override(language):
        ours, djangos = _forms()[index], _forms()[index]
        _with(FormRenderer(), ours)
        _with(DjangoTemplates(), djangos)
        for name in ours.fields:
            assert str(ours[name]) == str(djangos[name]), name
            assert ours[name].label_tag() == djangos[name].label_tag(), name
            assert ours[name].label_tag(attrs={"class": "x"}, label_suffix=":") == djangos[
                name
            ].label_tag(attrs={"class": "x"}, label_suffix=":"), name
            assert ours[name].as_hidden() == djangos[name].as_hidden(), name
        assert ours.as_div() == djangos.as_div()


@pytest.mark.parametrize("index", range(len(_forms())))
def test_the_field_tag_is_the_old_partial(index: int) -> None:
    engine = engines["django"]
    old = engine.from_string(OLD_FIELD)
    partial = engine.from_string('{% include "http/_field.html" %}')
    tag = engine.from_string("{% load deskgate_forms %}{% field field %}")
    form = _forms()[index]
    for name in form.fields:
        expected = old.render({"field": form[name]})
        assert partial.render({"field": form[name]}) == expected, name
        assert "\n" + tag.render({"field": form[name]}) + "\n" == expected, name


def test_an_apps_own_widget_template_is_used(tmp_path: Path) -> None:
    """Written out only while the engine would load Django's file: an override wins."""
    own = tmp_path / "django" / "forms" / "widgets"
    own.mkdir(parents=True)
    (own / "input.html").write_text('<input data-own name="{{ widget.name }}">')

    class Overridden(FormRenderer):
        @property
        def engine(self) -> Any:
            engine = getattr(self, "_engine", None)
            if engine is None:
                engine = self._engine = self.backend(
                    {
                        "APP_DIRS": True,
                        "DIRS": [tmp_path, Path(forms.__file__).parent / "templates"],
                        "NAME": "overridden",
                        "OPTIONS": {},
                    }
                )
            return engine

    form = _with(Overridden(), signin_forms.PasswordForm())
    assert str(form["username"]) == '<input data-own name="username">'
    assert (
        form["username"].label_tag()
        == _with(DjangoTemplates(), signin_forms.PasswordForm())["username"].label_tag()
    )


def test_djangos_own_templates_are_written_out() -> None:
    """The comparisons above compare something: these templates take the Python path."""
    renderer = FormRenderer()
    for name in ("text", "password", "email", "number", "hidden", "checkbox", "date"):
        assert renderer._is_djangos(f"django/forms/widgets/{name}.html"), name
    assert renderer._is_djangos("django/forms/label.html")


def test_a_missing_field_draws_the_empty_block_as_before() -> None:
    engine = engines["django"]
    old = engine.from_string(OLD_FIELD).render({"form": signin_forms.PasswordForm()})
    partial = engine.from_string('{% include "http/_field.html" with field=form.nothing %}')
    assert partial.render({"form": signin_forms.PasswordForm()}) == old
