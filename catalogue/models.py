"""Data holders and their datasets."""

from django.db import models


class DataHolder(models.Model):
    """An institution that keeps imaging collections and publishes them in the catalogue."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code")
    city = models.CharField(max_length=100, blank=True)
    website = models.URLField(blank=True)
    contact_email = models.EmailField(help_text="public contact point for the catalogue")
    rdo_email = models.EmailField("Research Data Office e-mail")
    stewards = models.ManyToManyField(
        "portal.User", through="Stewardship", related_name="stewarded_holders", blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="dataholder_country_iso2")
        ]

    def __str__(self) -> str:
        return self.name


class Stewardship(models.Model):
    """A user who publishes and maintains a data holder's datasets."""

    holder = models.ForeignKey(DataHolder, on_delete=models.CASCADE, related_name="stewardships")
    user = models.ForeignKey("portal.User", on_delete=models.CASCADE, related_name="stewardships")
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["holder", "user"], name="stewardship_unique")]

    def __str__(self) -> str:
        return f"{self.user} stewards {self.holder}"
