"""services/blobs: the blobs subsystem running as its own service.

Composed by trellis-core from trellis-core, trellis-blobs and trellis-remote only. It serves
the ``blobs`` contract's provider hooks at ``/remote/blobs/`` to callers that sign with
``TRELLIS_REMOTE_SECRET``; blob *metadata* stays in each caller's own database, this service
holds content only (ADR 0008).
"""
