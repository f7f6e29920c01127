"""The admin console at ``/admin``: server-rendered pages for the merchant's staff."""
