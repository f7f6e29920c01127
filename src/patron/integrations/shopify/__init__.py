"""The Shopify connector: contacts become Shopify customers through the Admin GraphQL API."""
