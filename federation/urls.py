"""The federation's pages and node endpoints (mounted at /federation/)."""

from django.urls import path

from federation import apis, views, views_nodes

app_name = "federation"

urlpatterns = [
    path("search/", views.federated_search, name="search"),
    path("nodes/", views_nodes.node_list, name="nodes"),
    path("nodes/<int:node_pk>/active/", views_nodes.node_active, name="node-active"),
    path("nodes/<int:node_pk>/grants/", views_nodes.node_grants, name="node-grants-honour"),
    path("node.json", apis.NodeIdentityApi.as_view(), name="node-identity"),
    path("v1/counts", apis.NodeCountsApi.as_view(), name="node-counts"),
    path("v1/grants", apis.NodeGrantsApi.as_view(), name="node-grants"),
    path("v1/grants/<int:remote_grant>/links", apis.NodeGrantLinksApi.as_view(), name="node-grant-links"),
    path("files/<str:token>", apis.ReceivedFileApi.as_view(), name="received-file"),
]
