# Shared by bench/chargeback and bench/weekly (sourced, not run): builds finops, finds the
# DuckDB CLI, generates the request log and ingests it into the store once. Expects ROWS,
# CSV, STORE, DATA_DIR and BENCH_NAME; sets FINOPS, DUCKDB_VERSION, TMP (removed on exit).
# --- build ------------------------------------------------------------------------------
if [[ -n "${BENCH_FINOPS:-}" ]]; then
    echo "== build: none (finops is BENCH_FINOPS=$BENCH_FINOPS)"
else
    echo "== build"
    cargo build --release --bin finops
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null \
    || true)"
TARGET_DIR="${TARGET_DIR:-${CARGO_TARGET_DIR:-target}}"
GEN="$TARGET_DIR/release/examples/gen-usage-log"
FINOPS="${BENCH_FINOPS:-$TARGET_DIR/release/finops}"
[[ -x "$FINOPS" ]] || { echo "bench/$BENCH_NAME: finops not found at $FINOPS" >&2; exit 1; }

# --- duckdb -----------------------------------------------------------------------------
# The DuckDB CLI, as users run it (the Python package's import alone adds time).
if ! command -v duckdb >/dev/null 2>&1; then
    echo "== pip install duckdb-cli"
    python3 -m pip install --quiet duckdb-cli
fi
DUCKDB_VERSION="$(duckdb --version | awk '{print $1}')"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# --- data -------------------------------------------------------------------------------
mkdir -p "$DATA_DIR"
if [[ -f "$CSV" ]] && [[ "$(wc -l < "$CSV")" -eq $((ROWS + 1)) ]]; then
    echo "== data: $CSV (exists)"
else
    echo "== data: generating $CSV"
    cargo build --release --example gen-usage-log
    [[ -x "$GEN" ]] || { echo "bench/$BENCH_NAME: generator not found at $GEN" >&2; exit 1; }
    "$GEN" --rows "$ROWS" --out "$CSV.tmp"
    mv "$CSV.tmp" "$CSV"
    rm -rf "$STORE"   # ingested from the old file
fi

# The store must hold exactly one batch: this CSV, all rows, none rejected.
store_ok() {
    [[ -f "$STORE/manifest.json" ]] || return 1
    "$FINOPS" --store "$STORE" sources --format csv -q > "$TMP/sources.csv" 2> /dev/null || return 1
    python3 - "$TMP/sources.csv" "$CSV" "$ROWS" <<'PY'
import csv, os, sys
path, src, rows = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3]
batches = [r for r in csv.DictReader(open(path, newline="")) if r["batch_id"] != "total"]
ok = (len(batches) == 1 and os.path.realpath(batches[0]["source_path"]) == src
      and batches[0]["rows"] == rows and batches[0]["rejected"] == "0")
sys.exit(0 if ok else 1)
PY
}
if store_ok; then
    echo "== store: $STORE (exists, holds $CSV)"
else
    echo "== store: ingesting $CSV into $STORE"
    rm -rf "$STORE"
    if ! "$FINOPS" --store "$STORE" ingest "$CSV" --no-progress -q --format csv > /dev/null 2> "$TMP/stderr"; then
        echo "bench/$BENCH_NAME: finops ingest failed:" >&2
        cat "$TMP/stderr" >&2
        exit 1
    fi
    store_ok || { echo "bench/$BENCH_NAME: the new store does not list $CSV as its one batch" >&2; exit 1; }
fi

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
maximum() { printf '%s\n' "$@" | sort -g | tail -n 1; }
