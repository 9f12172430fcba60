"""Python calls per plain completion, by the part of the pipeline they are made under (deterministic).

For every Python and C call made while serving a request (in-process, as benchmarks/call_count.py builds the app),
walks up the calling frames and credits the call to the innermost labelled part (rate limit, ledger, upstream
call, ...). Calls are a proxy for CPU that does not depend on how busy the machine is.

  python benchmarks/call_breakdown.py --requests 100 [--stream]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import collections  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import call_count as cc  # noqa: E402

# (label, path fragment, function name or None for any function of that file); the innermost match wins
PARTS = [
    ("upstream HTTP (requests/urllib3/http.client)", "/providers/http.py", "_send"),
    ("rate limit (Flask-Limiter + Redis)", "flask_limiter/", None),
    ("breaker (Redis)", "/infra/breakers.py", None),
    ("ledger record (spool)", "/infra/ledger.py", "record"),
    ("ledger drain (PostgreSQL)", "/infra/ledger.py", "_drain"),
    ("request log line", "/api/lifecycle.py", "_log"),
    ("metrics + tracing (observe)", "/api/observability.py", None),
    ("body parsing (webargs/marshmallow)", "webargs/core.py", "parse"),
    ("authentication", "/api/security.py", None),
    ("overload admission", "/api/overload.py", "refuse_when_overloaded"),
    ("response cache", "/core/response_cache.py", None),
    ("pricing + settle", "/core/gateway.py", "settle"),
    ("gateway core (route, execute, provider)", "/core/gateway.py", None),
    ("lifecycle (ids, record)", "/api/lifecycle.py", None),
    ("response rendering", "/api/rendering.py", None),
    ("Flask/Werkzeug/smorest", "/flask/", None),
    ("Flask/Werkzeug/smorest", "/werkzeug/", None),
    ("Flask/Werkzeug/smorest", "/flask_smorest/", None),
    ("test client", "/werkzeug/test.py", None),
]


def label_of(frame) -> str:
    f = frame
    best = None
    while f is not None:
        code = f.f_code
        for label, frag, func in PARTS:
            if frag in code.co_filename and (func is None or code.co_name == func):
                return label if best is None else best
        f = f.f_back
    return "other (hub, greenlets)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=100)
    p.add_argument("--stream", action="store_true")
    p.add_argument("--port", type=int, default=18935)
    a = p.parse_args()
    fake = cc.fake_upstream(a.port)
    try:
        app = cc.build_app(a.port, "llmgw_callcount", "redis://127.0.0.1:6379/8")
        client = app.test_client()
        path = "/api/v1/completion/stream" if a.stream else "/api/v1/completion"

        def one() -> None:
            r = client.post(path, json=cc.BODY, headers={"X-API-Key": cc.KEY})
            assert r.status_code == 200 and r.get_data()
            r.close()  # as a WSGI server does: the lifecycle logs and observes the request on close

        for _ in range(30):
            one()
        counts: collections.Counter[str] = collections.Counter()

        def hook(frame, event, _arg) -> None:
            if event in ("call", "c_call"):
                counts[label_of(frame)] += 1

        sys.setprofile(hook)
        for _ in range(a.requests):
            one()
        sys.setprofile(None)
        total = sum(counts.values())
        print(f"{path}: {total / a.requests:.0f} calls per request")
        for label, n in counts.most_common():
            print(f"{n / a.requests:8.0f}  {100 * n / total:5.1f} %  {label}")
    finally:
        fake.kill()


if __name__ == "__main__":
    main()
