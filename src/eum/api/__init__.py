"""HTTP edge: routers, schemas, error mapping. Thin: it calls services and renders."""
