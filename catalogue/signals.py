"""What the catalogue tells the apps built on it about a change, inside the transaction of the change.

The catalogue depends on no other app of the portal: an app that must follow a dataset's changes
(access_requests: the agreements that name the dataset) connects a receiver here.
"""

from django.dispatch import Signal

# Sent inside the transaction of a change to what a data-access agreement says of a dataset: its
# description (title, version, counts, size, conditions of use) or its registered files.
# Keyword arguments: dataset (the Dataset, as saved), actor (who made the change: a user or a
# system label), what (the change in words, for the people told of it).
dataset_changed = Signal()
