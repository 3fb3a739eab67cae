"""The hand-wired baseline of benchmark area ``forms``: a plain single-app Django project.

What a careful engineer writes without Trellis for the same receiver: one app (this package)
with its own models (domain, membership, API key, form definition, submission, case, case
change, outbox event: the same tables, constraints and indexes trellis-forms and trellis-events
have), Django's default ``startproject`` middleware, one view (``views.receiver``) and the
same SQLite (WAL, ``IMMEDIATE``) or PostgreSQL settings as hq's profiles. Tables come from
``migrate --run-syncdb`` (the app has no migrations). ``seed`` creates the domain, user, key
and form definition the benchmark posts to.

Environment: ``BENCH_BASE_DATABASE_URL`` (``postgres://...`` or ``sqlite:////path/db.sqlite3``).
"""
