"""What the tests share, one module per kind of help (the tests mirror the code; this package
holds only helpers, no tests):

* `people` — the one cast of organisations and people; Actors, Principals and tokens derive
  from it.
* `builders` — given–when–then steps for the contract aggregate, and the shared term, budget
  period, ceiling and session day.
* `app` — the service under test: Principals, a contract set up through the use cases, raw
  access to the stored events.
* `api` — HTTP: tokens good and bad, request bodies, steps over HTTP, problem+json checks.
* `servers` — the one way to start a real `dialoog serve` (tests and bench/).
* `reliability` — PostgreSQL faults, bounded client loops and history read-back for
  tests/reliability.
* `pgcluster` — a throwaway PostgreSQL cluster; also a script (`make test` runs through it).
"""
