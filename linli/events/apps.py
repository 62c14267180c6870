from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "linli.events"
    label = "events"

    def ready(self) -> None:
        # The periodic sweep (overdue, escalation) must be registered in every process.
        from linli.events import jobs  # noqa: F401
