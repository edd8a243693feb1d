"""The REST API: route catalog, resolver factory, error mapping, identity and routers."""
