"""`python -m services.images`: serve /v1/images/* on the bus until SIGINT/SIGTERM."""

from services.images.settings import ImagesSettings
from services.images.startup import parts
from services.kit import main

if __name__ == "__main__":
    main.run("images", ImagesSettings, parts)
