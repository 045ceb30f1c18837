"""Which of the five APIs a request speaks, decided by its path (the seeds fix the prefixes)."""

TORC = "torc"
EWMS = "ewms"
INFERNET = "infernet"
MITOSIS = "mitosis"
BATCHES = "batches"
DROVER = "drover"  # Drover's own paths: /token/, /health, /openapi.json, /docs/, /console/

# Longest match wins; Mitosis owns several root paths.
_PREFIXES: list[tuple[str, str]] = sorted(
    [
        ("/torc-service/", TORC),
        ("/v1/", EWMS),
        ("/info", INFERNET),
        ("/api/", INFERNET),
        ("/batches", BATCHES),
        ("/login", MITOSIS),
        ("/auth", MITOSIS),
        ("/redis", MITOSIS),
        ("/users", MITOSIS),
        ("/groups", MITOSIS),
        ("/workers", MITOSIS),
        ("/tasks", MITOSIS),
        ("/admin/", MITOSIS),
        ("/health", MITOSIS),
    ],
    key=lambda item: -len(item[0]),
)


def dialect_for_path(path: str) -> str:
    for prefix, dialect in _PREFIXES:
        segment = prefix.rstrip("/")
        if path == segment or path.startswith(segment + "/"):
            return dialect
    return DROVER
