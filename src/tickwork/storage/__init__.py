"""Storage: the schema, the migrations and every SQL query tickwork runs."""
