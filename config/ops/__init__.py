"""Operations code: what keeps the database and its backups healthy, apart
from the running product's wiring in config/.

- backups: verification, the migration-state guard, age retention, the
  partition-aware dump connector; nightly: the nightly backup run
- pitr: point-in-time recovery with pgBackRest (base backups, restores)
- partitions: monthly partitions of analytics and system_logs
- maintenance: VACUUM/REINDEX of the busy tables; report: db_report's numbers
- roles: the application and read-only database roles (create_db_roles)
- credentials: key material for the encrypted credentials (key rotation)
- health: `/health/` for load balancers

The management commands that run them stay in config/management/commands/
(Django finds commands only in an app), the Celery tasks in config/tasks.py
(their names are stored in django-celery-beat's rows).
"""
