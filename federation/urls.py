"""The federation's pages and node endpoints (mounted at /federation/)."""

from django.urls import path

from federation import apis, views, views_nodes

app_name = "federation"

urlpatterns = [
    path("search/", views.federated_search, name="search"),
    path("nodes/", views_nodes.node_list, name="nodes"),
    path("nodes/<int:node_pk>/active/", views_nodes.node_active, name="node-active"),
    path("node.json", apis.NodeIdentityApi.as_view(), name="node-identity"),
    path("v1/counts", apis.NodeCountsApi.as_view(), name="node-counts"),
]
