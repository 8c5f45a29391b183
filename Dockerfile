# connectql in a container. Build: docker build -t connectql .
# State (SQLite registry, secrets key, generated admin key) lives in the /data volume; mount
# your connectql.yaml read-only anywhere and point CONNECTQL_CONFIG at it. See the README.
FROM python:3.11-slim AS build
WORKDIR /src
# Dependencies first, in a layer of their own: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir -p src/connectql && touch src/connectql/__init__.py \
    && pip wheel --no-cache-dir --wheel-dir /wheels . \
    && rm /wheels/connectql-*.whl
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 connectql \
    && mkdir /data && chown connectql:connectql /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
USER connectql
WORKDIR /home/connectql
ENV CONNECTQL_STATE_DIR=/data PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["connectql", "serve", "--host", "0.0.0.0", "--port", "8000"]
