"""What users would pick instead, and the physical limit, measured in the same run as Drover:
raw SQL claims (raw_sql), Celery 5 on Redis (celery_ref), procrastinate on PostgreSQL
(procrastinate_ref)."""
