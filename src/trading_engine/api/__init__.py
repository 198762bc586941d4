"""HTTP routes. Thin: each calls the service and chooses the status code; no logic here."""
