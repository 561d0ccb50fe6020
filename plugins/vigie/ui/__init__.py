"""Vigie in Airflow's UI: the France map, the week's alerts, who has sent what, each département.

A FastAPI app (:mod:`vigie.ui.app`) that Airflow's API server mounts at ``/vigie`` through the
plugin :mod:`vigie.ui.plugin`; server-rendered pages that read the marts read-only. Outside
code needs only :func:`vigie.ui.links.departement_url` (a département page's address, for the
e-mails); this package's ``__init__`` imports nothing, so that import stays cheap.
"""
