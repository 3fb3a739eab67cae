"""A plain Django project that keeps form attachments in trellis-blobs (see ../README.md)."""
