# One image recipe for every service: docker build --build-arg SERVICE=customers --build-arg PORT=8001 .
# WORKERS (default 1) worker processes share the port; use more than one only on PostgreSQL.
FROM python:3.11-slim
ARG SERVICE
ARG PORT
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SERVICE=${SERVICE} PORT=${PORT}
WORKDIR /app
COPY requirements-runtime.lock ./
RUN pip install --no-cache-dir -r requirements-runtime.lock
COPY pyproject.toml ./
COPY shared shared
COPY pelanggan pelanggan
COPY services/__init__.py services/__init__.py
COPY services/${SERVICE} services/${SERVICE}
RUN test -n "${SERVICE}" && test -n "${PORT}" \
 && rm -rf services/${SERVICE}/tests \
 && pip install --no-cache-dir --no-deps . && useradd --uid 10001 --no-create-home app
USER 10001
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/readyz', timeout=2)"]
CMD ["sh", "-c", "exec python -m shared.http.server services.${SERVICE}.app:create_app --host 0.0.0.0 --port ${PORT} --workers ${WORKERS:-1}"]
