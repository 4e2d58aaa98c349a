"""Services: the only code that combines the database with the pure modules and commits."""
