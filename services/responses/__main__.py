"""`python -m services.responses`: serve /v1/responses and /v1/conversations on the bus until
SIGINT/SIGTERM. Any number of replicas share the work: their state is in MongoDB."""

from services.kit import main
from services.responses.settings import ResponsesSettings
from services.responses.startup import parts

if __name__ == "__main__":
    main.run("responses", ResponsesSettings, parts)
