# One image for the web server and the Celery worker.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core postgresql-client \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY mcpforge ./mcpforge
COPY apps ./apps
RUN pip install --no-cache-dir .
COPY . .
RUN SECRET_KEY=build DEBUG=false python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["sh", "-c", "python manage.py check --fail-level ERROR && uvicorn mcpforge.asgi:application --host 0.0.0.0 --port 8000"]
