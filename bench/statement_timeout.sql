-- A cap on one measurement, so a plan gone quadratic cannot stall the run.
SELECT pg_catalog.set_config('statement_timeout', %(timeout)s, false)
