#!/bin/sh
# Upgrade the ledger schema, then become gunicorn (exec: it receives SIGTERM directly and drains on shutdown).
set -eu
flask --app llmgateway db upgrade
exec gunicorn -c gunicorn.conf.py wsgi:app "$@"
