# llmgateway: gunicorn + gevent workers on a slim Python 3.11, as a non-root user, no secrets in the image.
# Secrets and endpoints come from the environment at run time (see docker-compose.yml and docs).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    DATABASE_URL=sqlite:////data/llmgateway.db

RUN groupadd --system --gid 10001 llmgateway \
    && useradd --system --uid 10001 --gid llmgateway --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin llmgateway \
    && mkdir -p /data \
    && chown llmgateway:llmgateway /data

WORKDIR /app

# Dependencies first (cached while only the code changes); psycopg[binary] needs no compiler.
COPY setup.cfg setup.py README.md ./
COPY llmgateway ./llmgateway
COPY migrations ./migrations
COPY gunicorn.conf.py wsgi.py ./
# Editable: the schema migrations are found beside the package, in /app/migrations.
RUN pip install -e ".[postgres]"

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

# Upgrade the ledger schema, then become gunicorn (exec: it receives SIGTERM itself and drains on shutdown).
ENTRYPOINT ["/bin/sh", "-c", "flask --app llmgateway db upgrade && exec gunicorn -c gunicorn.conf.py wsgi:app \"$@\"", "llmgateway"]
