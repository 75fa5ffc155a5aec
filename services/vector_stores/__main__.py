"""`python -m services.vector_stores`: serve /v1/vector_stores on the bus and ingest files from
JetStream until SIGINT/SIGTERM. With the embedded index (the default) one process owns the vectors;
with a Qdrant server (`VIVIAN_VECTOR_BACKEND=server`) any number of replicas share the work."""

from services.kit import main
from services.vector_stores.settings import VectorStoresSettings
from services.vector_stores.startup import parts

if __name__ == "__main__":
    main.run("vector_stores", VectorStoresSettings, parts)
