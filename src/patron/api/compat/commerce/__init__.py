"""The commerce RPC dialect (seed 004): contact persons at ``/compat/commerce/api/v6``."""
