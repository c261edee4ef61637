"""The audit trail: who changed what, when and from where (django-auditlog).

``registry`` names the models whose every change is recorded; ``receivers``
records sign-ins, failed sign-ins and second-factor events; ``services``
writes the entries the rest of lakeweb asks for (token use, job requests).
Entries are shown in Django admin, read-only and never deleted there.
"""
