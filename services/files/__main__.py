"""`python -m services.files`: serve /v1/files and /v1/uploads on the bus until SIGINT/SIGTERM."""

from services.files.settings import FilesSettings
from services.files.startup import parts
from services.kit import main

if __name__ == "__main__":
    main.run("files", FilesSettings, parts)
