"""Services: the code that combines the database with the pure modules; they flush, never commit."""
