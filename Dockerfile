FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY templates ./templates
COPY subscriptions ./subscriptions
RUN pip install --no-cache-dir '.[postgres,queue]'
RUN useradd --system awareness && mkdir -p var && chown awareness var
USER awareness
EXPOSE 8000
CMD ["awareness", "run"]
