# syntax=docker/dockerfile:1
# simplechat in a container. Two stages: the builder installs simplechat and its dependencies
# into a virtualenv; the final image is python:3.11-slim with only that virtualenv, running as
# an unprivileged user.
#
#   docker build -t simplechat .
#   docker run -p 8000:8000 -v simplechat-data:/data simplechat            # embedded database
#   docker run -p 8000:8000 -e MONGODB_URI=... -e SIMPLECHAT_JWT_SECRET=... \
#              -e OPENROUTER_API_KEY=... simplechat                         # production
#
# With no MONGODB_URI the embedded database (and the generated JWT secret) live in /data: keep
# it on a volume. Every setting is an environment variable (see .env.example); run
# `docker run --rm simplechat simplechat check-config` to see what the image would use.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/simplechat
WORKDIR /src
# Every dependency ships wheels for linux/amd64 and linux/arm64, so no compiler is needed.
COPY pyproject.toml README.md ./
COPY simplechat ./simplechat
RUN /opt/simplechat/bin/pip install --no-compile . \
 && /opt/simplechat/bin/python -c "import simplechat.app"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/simplechat/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SIMPLECHAT_DATA_DIR=/data \
    SIMPLECHAT_LOG_FORMAT=json
RUN groupadd --system --gid 10001 simplechat \
 && useradd --system --uid 10001 --gid simplechat --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin simplechat \
 && mkdir -p /data \
 && chown simplechat:simplechat /data
COPY --from=builder /opt/simplechat /opt/simplechat
USER simplechat
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# No curl in the slim image: the standard library asks /healthz (200 while the database answers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["simplechat", "serve", "--host", "0.0.0.0", "--port", "8000"]
