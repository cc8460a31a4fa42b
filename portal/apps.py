from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from django.core.checks import register

        from portal import access, dashboard_panels, schema, signals, sudo  # noqa: F401  (receivers, panels, schema)

        register(access.check_every_url_declared, "urls")
