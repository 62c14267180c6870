from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "linli.registry"
    label = "registry"

    def ready(self) -> None:
        # Registers the registry's background and periodic jobs in every process (web, worker,
        # beat, the embedded scheduler), not only in those that happened to load the views.
        from linli.registry.excel import importer  # noqa: F401
