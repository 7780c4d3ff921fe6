-- Fallback when the demo cannot log in as its logins (e.g. password auth):
-- act as the login within the owner's session.
SELECT pg_catalog.set_config('role', %(role)s, false)
