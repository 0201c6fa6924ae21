"""The event bus mechanism: transactional outbox, relay, inbox, consumer runner, dead letters."""
