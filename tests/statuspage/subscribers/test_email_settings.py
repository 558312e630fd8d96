"""Email settings from the environment: console unless configured, EMAIL_URL or Django's names."""

from __future__ import annotations

import pytest

from checkstack.settings import CONSOLE_EMAIL, SMTP_EMAIL, email_settings


def test_unconfigured_mail_goes_to_the_console():
    assert email_settings({}) == {"EMAIL_BACKEND": CONSOLE_EMAIL}
    assert email_settings({"EMAIL_URL": "console://"}) == {"EMAIL_BACKEND": CONSOLE_EMAIL}


def test_an_email_url_configures_smtp():
    found = email_settings({"EMAIL_URL": "smtp://me%40x.org:p%2Fw@mail.example.com:587?tls=true"})
    assert found == {
        "EMAIL_BACKEND": SMTP_EMAIL,
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "me@x.org",
        "EMAIL_HOST_PASSWORD": "p/w",
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": True,
    }
    implicit = email_settings({"EMAIL_URL": "smtps://mail.example.com"})
    assert (implicit["EMAIL_PORT"], implicit["EMAIL_USE_SSL"], implicit["EMAIL_USE_TLS"]) == (
        465,
        True,
        False,
    )


def test_the_standard_variables_configure_smtp():
    found = email_settings({"EMAIL_HOST": "relay", "EMAIL_PORT": "2525", "EMAIL_USE_TLS": "yes"})
    assert found["EMAIL_BACKEND"] == SMTP_EMAIL
    assert (found["EMAIL_HOST"], found["EMAIL_PORT"], found["EMAIL_USE_TLS"]) == (
        "relay",
        2525,
        True,
    )


def test_an_unknown_scheme_is_refused_at_start():
    with pytest.raises(ValueError, match="EMAIL_URL"):
        email_settings({"EMAIL_URL": "http://mail.example.com"})
