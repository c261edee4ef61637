"""The one model and runner of long work (STYLE: "Long work: one job model").

- ``models``: the ``Job`` row;
- ``registry``: the kinds of work, each a body and its limits;
- ``services``: request (the row is the outbox), send, cancel, sweep;
- ``runner``: claim under a row lock, lease, progress, retry, failure hook;
- ``tasks``: the Celery tasks, thin: a job id in, the runner called.
"""
