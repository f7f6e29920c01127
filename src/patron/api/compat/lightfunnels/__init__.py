"""The Lightfunnels dialect (seed 003): customers over GraphQL, ``/compat/lightfunnels/api/v2``."""
