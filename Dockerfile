# Patron: `patron serve` (the default command), `patron worker`, `patron migrate`.
#
#   docker build -t patron .            (or: podman build -t patron .)
#   docker run -p 8080:8080 -e PATRON_JWT_SECRET=... patron
#
# PYTHON_IMAGE is any Debian-based image with Python 3.11+ and its venv module
# (python:3.11-slim-bookworm by default).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the package and its pinned dependencies in a virtual environment ----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN python3 -m venv /opt/patron
COPY pyproject.toml README.md LICENSE alembic.ini ./
COPY src ./src
COPY migrations ./migrations
# Installed from /app, which the runtime keeps: the migrations are read from beside the code.
RUN /opt/patron/bin/pip install --upgrade pip \
    && /opt/patron/bin/pip install -e . \
    && /opt/patron/bin/patron --help > /dev/null

# --- runtime: no compiler, no pip cache, not root ---------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 patron \
    && useradd --system --uid 10001 --gid patron --home-dir /var/lib/patron --create-home \
       --shell /usr/sbin/nologin patron
COPY --from=build /opt/patron /opt/patron
COPY --from=build /app /app
ENV PATH=/opt/patron/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATRON_ENVIRONMENT=production \
    PATRON_HOST=0.0.0.0 \
    PATRON_PORT=8080 \
    PATRON_DATABASE_URL=sqlite:////var/lib/patron/patron.db
USER patron
WORKDIR /var/lib/patron
VOLUME ["/var/lib/patron"]
EXPOSE 8080
# Liveness only (the process answers); /readyz also checks the store and its revision.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["patron"]
CMD ["serve"]
