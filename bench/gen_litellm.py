#!/usr/bin/env python3
"""Deterministic generator of a LiteLLM spend log (a CSV dump of the proxy's
"LiteLLM_SpendLogs" table, docs/formats/gateways.md) for the ingest benchmark.

    python3 bench/gen_litellm.py ROWS OUT.csv [--seed N] [--start 2025-06-01] [--days 30]

Standard library only; the same arguments always write the same bytes. About 850 bytes a
row (1M rows: ~850 MB); 1M rows take about 80 s.

What the rows look like:
- the table's columns in its order, camelCase times (`2025-06-03 10:15:02.123`), JSON
  columns as JSON text; content logging off (`messages`, `response` empty), as by default;
- 10 teams, 30 features (each owned by a team), 50 virtual keys (sha256-like hashes, a few
  per team, each with an alias), 3000 end users (a few heavy ones, a long tail), envs
  prod/staging/dev;
- sessions of 1..40 requests (mostly 2..8), same feature, team, key, user and env throughout,
  requests seconds apart; session starts follow a daily rhythm over the period;
- models from OpenAI, Anthropic, Vertex AI and Bedrock, all keys of the LiteLLM price table;
  `usage_object` in OpenAI's shape (cached tokens) or Anthropic's (cache read/creation);
- `request_tags` `["team:<team>","env:<env>", ...]`, `metadata.spend_logs_metadata`
  `{"feature":..,"env":..}` (sometimes an experiment arm);
- `spend` computed exactly from the tokens (integer pico-dollars, printed as Python/Postgres
  print float8: `2e-05`); ~2% of the rows have no spend (priced at ingest), ~3% are failures
  (spend 0, no output).
"""

import argparse
import csv
import datetime as dt
import hashlib
import json
import math
import random
import sys

COLUMNS = [
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens",
    "completion_tokens", "startTime", "endTime", "request_duration_ms", "completionStartTime",
    "model", "model_id", "model_group", "custom_llm_provider", "api_base", "user", "metadata",
    "cache_hit", "cache_key", "request_tags", "team_id", "organization_id", "end_user",
    "requester_ip_address", "messages", "response", "session_id", "status",
    "proxy_server_request", "mcp_namespaced_tool_name", "agent_id",
]

# model, group, provider, api_base, shape, prices in pico-dollars per token:
# (input, cache read, cache write, output) -- the LiteLLM table's values exactly.
MODELS = [
    ("gpt-4o-2024-08-06", "gpt-4o", "openai", "https://api.openai.com/v1", "openai", (2_500_000, 1_250_000, 2_500_000, 10_000_000)),
    ("gpt-4o-mini", "gpt-4o-mini", "openai", "https://api.openai.com/v1", "openai", (150_000, 75_000, 150_000, 600_000)),
    ("gpt-4.1-mini", "gpt-4.1-mini", "openai", "https://api.openai.com/v1", "openai", (400_000, 100_000, 400_000, 1_600_000)),
    ("claude-sonnet-4-5", "claude-sonnet", "anthropic", "https://api.anthropic.com", "anthropic", (3_000_000, 300_000, 3_750_000, 15_000_000)),
    ("claude-haiku-4-5", "claude-haiku", "anthropic", "https://api.anthropic.com", "anthropic", (1_000_000, 100_000, 1_250_000, 5_000_000)),
    ("gemini-2.5-flash", "gemini-flash", "vertex_ai", "https://us-central1-aiplatform.googleapis.com", "openai", (300_000, 30_000, 300_000, 2_500_000)),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-legacy", "bedrock", "https://bedrock-runtime.us-east-1.amazonaws.com", "anthropic", (3_000_000, 300_000, 3_750_000, 15_000_000)),
]
EMBED = ("text-embedding-3-small", "embed", "openai", "https://api.openai.com/v1", "openai", (20_000, 20_000, 20_000, 0))

TEAMS = ["search", "support", "ads", "growth", "platform", "risk", "docs", "sales", "mobile", "data"]
FEATURES = [(f"{t}-{name}", t) for t in TEAMS for name in ("assistant", "summary", "agent")]
ENVS = [("prod", 0.85), ("staging", 0.1), ("dev", 0.05)]


def pick_weighted(rng, items):
    x = rng.random()
    for item, w in items:
        x -= w
        if x <= 0:
            return item
    return items[-1][0]


def lognormal(rng, median, sigma):
    return median * math.exp(rng.gauss(0.0, sigma))


def spend_text(pico):
    # float8 as Postgres (and Python's repr) print it: shortest round trip, 2e-05 style.
    return repr(pico / 1e12)


def ts(t):
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=20250601)
    ap.add_argument("--start", default="2025-06-01")
    ap.add_argument("--days", type=int, default=30)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    start = dt.datetime.fromisoformat(a.start)
    span = a.days * 86400

    keys = []
    for i in range(50):
        team = TEAMS[i % len(TEAMS)]
        h = hashlib.sha256(f"sk-{a.seed}-{i}".encode()).hexdigest()
        keys.append((h, f"{team}-svc-{i // len(TEAMS)}", team))
    team_keys = {t: [k for k in keys if k[2] == t] for t in TEAMS}
    feature_model = {f: rng.sample(range(len(MODELS)), 2) for f, _ in FEATURES}
    users = [f"cust-{i:05d}" for i in range(3000)]

    # Session starts: a day rhythm (busy 08-18 UTC) over the period, in order.
    n_sessions_est = max(1, a.rows // 5)
    starts = []
    while len(starts) < n_sessions_est:
        s = rng.random() * span
        hour = (s % 86400) / 3600
        if rng.random() < (1.0 if 8 <= hour < 18 else 0.25):
            starts.append(s)
    starts.sort()

    out = open(a.out, "w", newline="")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    written = 0
    sess_i = 0
    while written < a.rows:
        s0 = starts[sess_i % len(starts)] + (sess_i // len(starts)) * 0.001
        sess_i += 1
        feature, team = FEATURES[rng.randrange(len(FEATURES))]
        key, alias, _ = rng.choice(team_keys[team])
        env = pick_weighted(rng, ENVS)
        user = users[min(int(rng.paretovariate(1.2)) - 1, len(users) - 1)] if rng.random() < 0.3 else rng.choice(users)
        session = f"sess-{sess_i:08d}"
        n = max(1, min(40, int(round(lognormal(rng, 4, 0.8)))))
        t = start + dt.timedelta(seconds=s0)
        slm = {"feature": feature, "env": env}
        if rng.random() < 0.1:
            slm["experiment"] = {"name": "prompt-v2", "arm": rng.choice("ab")}
        tags = [f"team:{team}", f"env:{env}"]
        if rng.random() < 0.2:
            tags.append("priority")
        tags_text = json.dumps(tags, separators=(",", ":"))
        for _ in range(n):
            if written >= a.rows:
                break
            written += 1
            embed = rng.random() < 0.05
            model, group, provider, base, shape, (p_in, p_read, p_write, p_out) = (
                EMBED if embed else MODELS[rng.choice(feature_model[feature])])
            prompt = int(lognormal(rng, 1500, 1.0)) + 10
            output = 0 if embed else int(lognormal(rng, 250, 0.9)) + 1
            read = int(prompt * rng.uniform(0.5, 0.95)) if not embed and rng.random() < 0.4 else 0
            write = int((prompt - read) * rng.uniform(0.3, 0.9)) if shape == "anthropic" and rng.random() < 0.05 else 0
            failed = rng.random() < 0.03
            if failed:
                output = 0
            uncached = prompt - read - write
            pico = uncached * p_in + read * p_read + write * p_write + output * p_out
            if failed:
                spend = "0.0"
            elif rng.random() < 0.02:
                spend = ""
            else:
                spend = spend_text(pico)
            if shape == "anthropic":
                uo = {"input_tokens": uncached, "cache_read_input_tokens": read, "cache_creation_input_tokens": write, "output_tokens": output}
            else:
                uo = {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output,
                      "prompt_tokens_details": {"cached_tokens": read}}
            meta = {"user_api_key": key, "user_api_key_alias": alias, "user_api_key_team_id": f"team-{team}",
                    "user_api_key_org_id": None, "user_api_key_user_id": None, "spend_logs_metadata": slm, "usage_object": uo}
            if failed:
                meta["status"] = "failure"
                meta["error_information"] = {"error_code": "429", "error_class": "RateLimitError"}
            dur = int(lognormal(rng, 1800, 0.7)) + 50
            end = t + dt.timedelta(milliseconds=dur)
            rid = f"chatcmpl-{hashlib.md5(f'{a.seed}-{written}'.encode()).hexdigest()[:24]}"
            w.writerow([
                rid, "aembedding" if embed else "acompletion", key, spend, prompt + output, prompt, output,
                ts(t), ts(end), dur, "" if embed or failed else ts(t + dt.timedelta(milliseconds=dur // 5)),
                model, f"dep-{group}", group, provider, base, "", json.dumps(meta, separators=(",", ":")),
                "False", "", tags_text, f"team-{team}", "org-main", user, "10.0.%d.%d" % (rng.randrange(8), rng.randrange(250)),
                "", "", session, "failure" if failed else "success", "", "", "",
            ])
            t = end + dt.timedelta(milliseconds=int(lognormal(rng, 4000, 0.8)))
    out.close()
    print(f"wrote {written} rows to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
