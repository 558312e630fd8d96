"""The half that faces the people affected: the public status page, scheduled maintenance,
and subscribers who are told by email (or webhook) when something happens.

One folder per concern: ``maintenance/`` (the ``maintenance`` entity, its services, schedule,
admin, API and actions), ``page/`` (the public pages, feeds, summary.json, badges, caching) and
``subscribers/`` (double opt-in, preferences, notifications). ``models/`` holds the tables of
all three (Django wants them in one module).
"""
