"""The contributors' tooling, apart from the pipeline: the quality gates (`tmdb test`), the benchmark
(`tmdb bench`) and the warehouse comparison both of them and the tests use (`checksums`)."""
