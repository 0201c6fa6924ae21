"""HTTP building blocks: app factory, problem+json errors, auth, pagination, health."""
