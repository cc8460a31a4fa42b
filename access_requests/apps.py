from django.apps import AppConfig


class AccessRequestsConfig(AppConfig):
    name = "access_requests"
    verbose_name = "Access requests"

    def ready(self) -> None:
        from access_requests import dashboard  # noqa: F401  (registers panels)
        from access_requests.services.agreements import agreements_follow_dataset
        from catalogue.signals import dataset_changed

        dataset_changed.connect(agreements_follow_dataset, dispatch_uid="access_requests.agreements_follow_dataset")
