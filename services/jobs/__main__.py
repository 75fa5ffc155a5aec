"""`python -m services.jobs`: serve /v1/batches and /v1/fine_tuning on the bus and run their durable
work from JetStream until SIGINT/SIGTERM. Any number of replicas share the work."""

from services.jobs.settings import JobsSettings
from services.jobs.startup import parts
from services.kit import main

if __name__ == "__main__":
    main.run("jobs", JobsSettings, parts)
