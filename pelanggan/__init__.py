"""Pelanggan: an open-source CRM of FastAPI microservices on Apache Kafka."""
