"""The Klaviyo connector: contacts become Klaviyo profiles through its profile-import API."""
