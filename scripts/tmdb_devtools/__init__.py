"""The contributors' tooling, apart from the pipeline and not in its wheel: the quality gates (`make test`),
the benchmark (`make bench`), the container and cluster test drivers, the warehouse comparison the benchmark
and the tests share (`checksums`), the dbt-bouncer checks and the sqlfluff stand-in for dbt's Jinja context.

It runs from a checkout, where the editable install puts scripts/ on the path: `python -m tmdb_devtools
<command>`, which the make targets call. It uses the pipeline (`tmdb_pipeline`); the pipeline never uses it.
"""
