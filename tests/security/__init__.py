"""Security tests across dialects: the tenant-isolation and auth matrix over every operation."""
