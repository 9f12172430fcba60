"""WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app` (the config file applies the gevent patch first)."""

from llmgateway import create_app

app = create_app()
