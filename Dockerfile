# syntax=docker/dockerfile:1
#
# lakeweb production image.
#   docker build -t lakeweb:latest .
#   docker run --env-file .env -p 8000:8000 -v lakeweb-data:/data lakeweb:latest
# The same image runs the web server (default CMD), the Celery worker and beat,
# and one-shot management commands (see compose.yaml).

# --- build stage: install the pinned runtime dependencies into a virtualenv ---
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Compilers and libpq headers, only for a dependency that ships no wheel for
# this platform (e.g. psycopg built from source); none of it reaches the final image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
COPY requirements.txt .
RUN pip install --upgrade pip \
    && pip install -r requirements.txt

# --- runtime stage ---------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LAKEWEB_DATA_DIR=/data \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    PATH=/opt/venv/bin:$PATH

# libpq for psycopg when it is not the self-contained binary build.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

# A writable home: gunicorn (25+) keeps its control socket in ~/.gunicorn/.
RUN groupadd --system --gid 10001 lakeweb \
    && useradd --system --uid 10001 --gid lakeweb \
       --create-home --home-dir /home/lakeweb --shell /usr/sbin/nologin lakeweb

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# The code stays owned by root: the app user can read it but not change it.
COPY . .

# The settings create LAKEWEB_DATA_DIR on import, so /data must exist and belong
# to the app user; a new named volume mounted there inherits this ownership.
RUN mkdir -p /data /app/staticfiles \
    && chown lakeweb:lakeweb /data /app/staticfiles

USER lakeweb

# Static files are baked into the image (served by WhiteNoise); the key is a
# throwaway used only for this step. The folders the settings made in /data
# during the import are removed so the image ships an empty data folder.
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && rm -rf /data/*

EXPOSE 8000

# No curl in the slim image: probe with the standard library. The Host header is
# the first DJANGO_ALLOWED_HOSTS entry so Django accepts the request, and
# X-Forwarded-Proto keeps DJANGO_SECURE_SSL_REDIRECT from answering with a redirect.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h = os.environ.get('DJANGO_ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.'); h = h if h and h != '*' else '127.0.0.1'; u.urlopen(u.Request('http://127.0.0.1:8000/health/', headers={'Host': h, 'X-Forwarded-Proto': 'https'}), timeout=4)"]

CMD ["gunicorn", "lakeweb.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
