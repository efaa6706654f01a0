"""QBank's HTTP API (Litestar): thin controllers over ``qbank`` services."""
