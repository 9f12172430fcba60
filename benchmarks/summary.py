"""The README's side-by-side table (gateway, floor, LiteLLM) and the issue's ratios, from one run's JSON.

python benchmarks/summary.py benchmarks/results/latest.json
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> None:
    r = json.load(open(path))
    wrk = {(x["target"], x["latency_ms"], x["concurrency"]): x for x in r["wrk"]}
    held = {x["target"]: x for x in r.get("held", []) if x.get("kind", "text") == "text"}
    names = [t for t in ("gateway", "floor", "litellm") if any(k[0] == t for k in wrk) or t in held]

    def cell(t: str, c: int, key: str, fmt: str = "{:.2f}") -> str:
        x = wrk.get((t, 0, c))
        return fmt.format(x[key]) if x and x.get(key) is not None else "-"

    def hcell(t: str, fn, fmt: str = "{:.1f}") -> str:
        x, d = held.get(t), held.get("direct")
        try:
            v = fn(x, d)
        except (TypeError, KeyError):
            return "-"
        return fmt.format(v) if v is not None else "-"

    rows = [
        ("requests/s, c=64", lambda t: cell(t, 64, "rps", "{:.0f}")),
        ("CPU per request, c=64 (ms)", lambda t: cell(t, 64, "cpu_ms_per_req")),
        ("p99 latency, c=64 (ms)", lambda t: cell(t, 64, "p99_ms", "{:.0f}")),
        (
            "PSS after c=64 / c=256 (MB)",
            lambda t: f"{cell(t, 64, 'pss_end_mb', '{:.0f}')} / {cell(t, 256, 'pss_end_mb', '{:.0f}')}",
        ),
        ("noise during c=64 (% of a core)", lambda t: cell(t, 64, "noise_pct", "{:.0f}")),
        (
            "held streams: completed / errors",
            lambda t: hcell(t, lambda x, d: f"{x['completed']} / {x['errors']}", "{}"),
        ),
        (
            "held: first-event overhead p50 / p99 (ms)",
            lambda t: hcell(
                t,
                lambda x, d: (
                    f"{x['first_event_ms']['p50'] - d['first_event_ms']['p50']:.1f} / "
                    f"{x['first_event_ms']['p99'] - d['first_event_ms']['p99']:.1f}"
                ),
                "{}",
            ),
        ),
        (
            "held: inter-chunk overhead p99 (ms)",
            lambda t: hcell(t, lambda x, d: x["relay_delay_ms"]["p99"] - d["relay_delay_ms"]["p99"]),
        ),
        ("held: CPU per relayed chunk (µs)", lambda t: hcell(t, lambda x, d: x["cpu_us_per_chunk"])),
        ("held: CPU per stream (ms)", lambda t: hcell(t, lambda x, d: x["cpu_ms_per_stream"], "{:.2f}")),
        (
            "held: PSS before / peak (MB), per open stream (KB)",
            lambda t: hcell(
                t, lambda x, d: f"{x['pss_before_mb']:.0f} / {x['pss_peak_mb']:.0f}, {x['pss_per_stream_kb']:.0f}", "{}"
            ),
        ),
        ("noise during held streams (% of a core)", lambda t: hcell(t, lambda x, d: x["noise_pct"], "{:.0f}")),
    ]
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label, fn in rows:
        print(f"| {label} | " + " | ".join(fn(t) for t in names) + " |")

    def ratio(a, b):
        return a / b if a is not None and b else None

    g, f, li = (wrk.get((t, 0, 64)) or {} for t in ("gateway", "floor", "litellm"))
    gh, fh = held.get("gateway") or {}, held.get("floor") or {}
    print()
    for label, v, target in (
        ("CPU per request, gateway / floor (c=64)", ratio(g.get("cpu_ms_per_req"), f.get("cpu_ms_per_req")), "≤ 1.4"),
        ("throughput, gateway / LiteLLM (c=64)", ratio(g.get("rps"), li.get("rps")), "≥ 7"),
        (
            "CPU per relayed chunk, gateway / floor (held)",
            ratio(gh.get("cpu_us_per_chunk"), fh.get("cpu_us_per_chunk")),
            "≤ 1.25",
        ),
    ):
        print(f"- {label}: {'-' if v is None else f'{v:.2f}x'} (target {target})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/latest.json")
