"""The files service: `/v1/files` and `/v1/uploads`. Bytes in an S3 object store, records in MongoDB."""
