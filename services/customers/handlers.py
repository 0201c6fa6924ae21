"""Events the customers service consumes (registry keyed by event type and version).

Empty until the services it listens to exist: orders (a paid key product schedules a follow-up
consultation) and incentives (employees, locomotive products) register here in their issues.
"""

from shared.bus.handlers import HandlerRegistry

handlers = HandlerRegistry()
