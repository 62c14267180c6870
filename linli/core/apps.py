from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "linli.core"
    label = "core"
    verbose_name = "Linli core"

    def ready(self) -> None:
        # Personal data is stored only under SM4 and hashed only with SM3: without them the
        # platform must not start at all, rather than fail later on the first write.
        from linli.core import schema  # noqa: F401  (registers the OpenAPI auth schemes)
        from linli.utilities import crypto

        crypto.self_check()
        crypto.check_audit_key_pair()
