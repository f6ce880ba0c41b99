"""The web dashboard and JSON API: server-rendered pages and ``/api/v1`` over the same
services and read models as the command line (``create_app`` and ``serve`` in ``app``)."""
