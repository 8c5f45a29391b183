# connectql: `docker build -t connectql .` then
#   docker run -p 8000:8000 connectql                       (the demo)
#   docker run -p 8000:8000 -v $PWD:/config -e CONNECTQL_CONFIG=/config/connectql.yaml connectql
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 connectql
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER connectql
WORKDIR /home/connectql
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["connectql", "serve", "--host", "0.0.0.0", "--port", "8000"]
