from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import dashboard_panels, schema, signals  # noqa: F401  (registers receivers, panels, schema)
