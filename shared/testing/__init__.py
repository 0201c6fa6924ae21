"""Test helpers: finding or starting the real broker and database, running service apps."""
