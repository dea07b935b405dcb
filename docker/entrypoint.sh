#!/bin/sh
# The one way DXナビ is started in production, in the image and outside it (README「本番運用」):
#   docker/entrypoint.sh api   ingest when the index is missing or stale, then serve the API
#   docker/entrypoint.sh ui    serve the Streamlit UI (talks to DXNAVI_API_URL, never to the index)
#   docker/entrypoint.sh CMD…  run any other command (e.g. `dxnavi doctor`, `dxnavi ingest --rebuild`)
# Settings come from DXNAVI_* environment variables (see .env.example); DXNAVI_API_WORKERS (default 1)
# is read here only.
set -eu

role="${1:-api}"
case "$role" in
  api)
    # `dxnavi ingest` does nothing when the index is up to date. Several API containers starting at
    # once take turns through this lock on the shared data folder instead of failing on ingest's own.
    mkdir -p "${DXNAVI_DATA_DIR:-var}"
    flock "${DXNAVI_DATA_DIR:-var}/.start.lock" dxnavi ingest --quiet
    # Several workers read the Chroma server, or each its private copy of the embedded store.
    exec dxnavi serve --host "${DXNAVI_API_HOST:-0.0.0.0}" --port "${DXNAVI_API_PORT:-8000}" \
      --workers "${DXNAVI_API_WORKERS:-1}"
    ;;
  ui)
    exec dxnavi ui --host "${DXNAVI_UI_HOST:-0.0.0.0}" --port "${DXNAVI_UI_PORT:-8501}"
    ;;
  *)
    exec "$@"
    ;;
esac
